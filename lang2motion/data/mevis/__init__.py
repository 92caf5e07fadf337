"""MeViS: the data set's layout, and reading and writing splits in it (one module each).

- ``layout``: file names and the Expression / Video / VideoRecord records;
- ``rle``: the COCO compressed RLE codec of ``mask_dict.json``, with checked decoding;
- ``maskindex``: random access to a large ``mask_dict.json`` through a byte-offset index;
- ``reader``: :class:`MevisSplit`, one split read lazily;
- ``writer``: :class:`SplitWriter` and :func:`write_split`, new splits or appending (a user's
  own clips go in through ``lang2motion import``, :mod:`lang2motion.data.folder`).
"""
