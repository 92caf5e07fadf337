"""``data.source: folder``: a user's own clips, listed in a manifest, imported into MeViS layout."""
