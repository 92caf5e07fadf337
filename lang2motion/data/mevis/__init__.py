"""MeViS: the data set's layout, and reading, writing and importing splits in it (one module each).

- ``layout``: file names and the Expression / Video / VideoRecord records;
- ``rle``: the COCO compressed RLE codec of ``mask_dict.json``, with checked decoding;
- ``maskindex``: random access to a large ``mask_dict.json`` through a byte-offset index;
- ``reader``: :class:`MevisSplit`, one split read lazily;
- ``writer``: :func:`write_split`, new splits or appending;
- ``convert``: :func:`import_clip`, a folder of frames + masks + captions into a split.
"""
