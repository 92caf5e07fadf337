"""Data: the MeViS layout (reader, writer, download), the synthetic MeViS-format set,
sample windows, prepared-split lookup and skeleton files."""
