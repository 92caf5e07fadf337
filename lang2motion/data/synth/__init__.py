"""A synthetic data set in the exact MeViS layout: textured shapes in 17 motion kinds, MeViS-style
captions, and exact ground-truth motion (``truth``)."""
