"""A synthetic data set in the exact MeViS layout, with exact ground-truth motion.

Textured shapes move in one of 17 motion kinds and are described by MeViS-style captions. The
package is split along the generator's seams:

- ``motion``: the motion kinds (closed-form offsets, rotation, scale per frame);
- ``sprites``: shapes, textures and backgrounds;
- ``scenes``: objects placed with their motions, layered by depth and rendered;
- ``captions``: caption templates (train-only and valid-only groups) and noun phrases;
- ``generate``: writing splits in the MeViS layout plus the ground-truth sidecar;
- ``truth``: reading the sidecar back: labels and exact point tracks.
"""
