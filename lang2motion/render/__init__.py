"""Drawing trajectories: trail overlays (what CLIP sees), animations, MP4/GIF/PNG writers."""
