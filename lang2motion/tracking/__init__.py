"""Point tracking: grid placement in a mask, the LK and CoTracker3 backends, TAP-Vid metrics."""
