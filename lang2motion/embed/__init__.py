"""CLIP: the frozen open_clip encoder and the embed stage's text and overlay-image features."""
