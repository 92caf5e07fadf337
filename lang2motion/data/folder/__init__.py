"""``data.source: folder``: a user's own clips, listed in a manifest, imported into MeViS layout.

``manifest`` reads and checks ``clips.jsonl`` / ``clips.csv``; ``video`` decodes a clip (a video
file or a folder of frames) resampled to a frame rate; ``importer`` writes the prepared splits.
"""
