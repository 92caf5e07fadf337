"""Lang2Motion: language-guided 2D point trajectories."""
