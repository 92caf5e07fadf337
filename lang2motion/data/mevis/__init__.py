"""MeViS: the data set's layout, and reading and writing splits in it (one module each)."""
