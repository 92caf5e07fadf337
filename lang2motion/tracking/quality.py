"""Is a split's tracking plausible for video of moving objects? Two shares, per split.

Legend: R track rows, T frames, N points.

``static_share``: rows none of whose points moves STATIC_PX pixels from its query position;
``invisible_share``: points invisible in every frame after the query frame. A tracker with wrong
weights gives both, and the pipeline would train on them without a word: the track stage warns
above WARN_SHARE and the report prints them beside the tracker's name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lang2motion.geometry import denormalise
from lang2motion.store import TrackRow

# A point that moves less than this many pixels over the whole window has not moved: below the
# jitter a tracker shows on a still object, far below the motion of a moving one.
STATIC_PX = 2.0
# Above this share of static rows or never-again-visible points a split is implausible for
# video of moving objects (the synthetic demo: every object moves; MeViS: motion expressions).
WARN_SHARE = 0.5


def row_displacement_px(row: TrackRow) -> float:
    """The largest distance, in pixels, of any point of ``row`` from its query position."""
    tracks = denormalise(np.asarray(row.tracks, np.float64), row.width, row.height)  # (T, N, 2)
    return float(np.linalg.norm(tracks - tracks[:1], axis=-1).max()) if len(tracks) else 0.0


def track_quality(rows: Sequence[TrackRow]) -> dict[str, object]:
    """The two shares of a split (None where there are no rows), with the threshold used."""
    if not rows:
        return {"static_share": None, "invisible_share": None, "static_px": STATIC_PX,
                "rows": 0, "points": 0}
    static = sum(row_displacement_px(r) < STATIC_PX for r in rows)
    points = sum(np.shape(row.visible)[1] for row in rows)           # visible (T, N)
    invisible = sum(int((~np.asarray(row.visible, bool)[1:].any(axis=0)).sum()) for row in rows)
    return {"static_share": static / len(rows),
            "invisible_share": invisible / points if points else None,
            "static_px": STATIC_PX, "rows": len(rows), "points": points}


def implausible(quality: dict[str, object], *, split: str, tracker: str) -> str | None:
    """One line saying what is implausible about a split's tracks, or None."""
    problems = []
    static, invisible = quality.get("static_share"), quality.get("invisible_share")
    if isinstance(static, float) and static > WARN_SHARE:
        problems.append(f"{static:.0%} of track rows move less than {STATIC_PX:g} px")
    if isinstance(invisible, float) and invisible > WARN_SHARE:
        problems.append(f"{invisible:.0%} of points are invisible after the query frame")
    if not problems:
        return None
    return (f"tracker {tracker}, split {split}: {' and '.join(problems)}; implausible for video "
            "of moving objects: check the tracker and its weights (track.backend, "
            "track.checkpoint)")
