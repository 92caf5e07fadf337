"""MeViS: the data set's layout, and reading, writing and importing splits in it.

- ``layout``: file names and the Expression / Video / VideoRecord records;
- ``rle``: the COCO compressed RLE codec of ``mask_dict.json``, with checked decoding;
- ``maskindex``: random access to a large ``mask_dict.json`` through a byte-offset index;
- ``reader``: :class:`MevisSplit`, one split read lazily;
- ``writer``: :func:`write_split`, new splits or appending;
- ``convert``: :func:`import_clip`, a folder of frames + masks + captions into a split.
"""

from lang2motion.data.mevis.convert import import_clip
from lang2motion.data.mevis.layout import (
    FRAME_EXT,
    FRAMES_DIR,
    MASK_DICT_NAME,
    META_NAMES,
    REASON_NO_OBJECT,
    VIDEO_ID_HEX,
    Expression,
    Video,
    VideoRecord,
)
from lang2motion.data.mevis.maskindex import MaskDict, scan_top_level_offsets
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.mevis.rle import decode_rle, encode_rle, rle_counts
from lang2motion.data.mevis.writer import write_split

__all__ = ["FRAMES_DIR", "FRAME_EXT", "MASK_DICT_NAME", "META_NAMES", "REASON_NO_OBJECT",
           "VIDEO_ID_HEX", "Expression", "MaskDict", "MevisSplit", "Video", "VideoRecord",
           "decode_rle", "encode_rle", "import_clip", "rle_counts", "scan_top_level_offsets",
           "write_split"]
