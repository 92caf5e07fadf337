"""Markdown that reads well on GitHub and as plain text: numbers with intervals, tables, links.

A number of ours is printed with its interval, ``0.213 [0.190, 0.236]``; a computed
expectation (a STAT flagged ``"exact": true``, e.g. random retrieval) as ``0.213 (exact)``; a
missing or undefined one as ``n/a``. Tables are tabulate's pipe tables, aligned in plain text
too; cells are escaped (a ``|`` in a caption would split the row); links are relative and
percent-encoded so that paths with spaces still resolve.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tabulate import tabulate

NA = "n/a"                 # a value of ours that is null, NaN or absent
NOT_IN_PAPER = "—"         # a cell the paper's table does not have
NOT_RUN = "not run"        # a configuration or method we did not run
VALUE_DIGITS = 3           # unitless scores, normalised distances, cosines
PERCENT_DIGITS = 1         # recall and accuracy in percent (as the paper prints them)
PIXEL_DIGITS = 1           # distances in pixels of a 256 x 256 frame
MS_DIGITS = 1              # milliseconds
PERCENT = 100.0


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (null, NaN, infinite, not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def fmt(value: Any, digits: int = VALUE_DIGITS, *, scale: float = 1.0) -> str:
    """A plain number with ``digits`` decimals, ``n/a`` where missing."""
    value = number(value)
    return NA if value is None else f"{value * scale:.{digits}f}"


def fmt_stat(stat: Any, digits: int = VALUE_DIGITS, *, scale: float = 1.0) -> str:
    """A STAT ``{"value", "lo", "hi", "n"}`` (or a bare number) as ``v [lo, hi]``."""
    if not isinstance(stat, Mapping):
        return fmt(stat, digits, scale=scale)
    value, lo, hi = (number(stat.get(k)) for k in ("value", "lo", "hi"))
    if value is None:
        return NA
    text = fmt(value, digits, scale=scale)
    if lo is None or hi is None:
        return text
    if stat.get("exact"):
        return f"{text} (exact)"
    return f"{text} [{fmt(lo, digits, scale=scale)}, {fmt(hi, digits, scale=scale)}]"


def percent(stat: Any) -> str:
    """A recall or accuracy STAT (a fraction) in percent, as the paper prints them."""
    return fmt_stat(stat, PERCENT_DIGITS, scale=PERCENT)


def score(stat: Any) -> str:
    """A unitless score, cosine or normalised distance STAT."""
    return fmt_stat(stat, VALUE_DIGITS)


def pixels(stat: Any) -> str:
    """A distance STAT in pixels of a 256 x 256 frame."""
    return fmt_stat(stat, PIXEL_DIGITS)


def cell(text: Any) -> str:
    """Text safe inside a table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


ALIGN = {"l": "left", "r": "right"}


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          align: Sequence[str] | None = None) -> str:
    """A GitHub (pipe) table; ``align`` per column: "l" (default) or "r"."""
    align = align or ["l"] * len(headers)
    assert len(align) == len(headers), "one alignment per column"
    for row in rows:
        assert len(row) == len(headers), f"row {row!r} has {len(row)} cells, not {len(headers)}"
    return tabulate([[cell(c) for c in row] for row in rows], headers=[cell(h) for h in headers],
                    tablefmt="pipe", colalign=[ALIGN[a] for a in align], disable_numparse=True)


def code(text: Any) -> str:
    return f"`{text}`"


def relative(path: str | os.PathLike[str], start: str | os.PathLike[str]) -> str:
    """``path`` relative to folder ``start``, with forward slashes and percent-encoding."""
    rel = os.path.relpath(Path(path).resolve(), Path(start).resolve())
    return quote(Path(rel).as_posix())


def image(alt: str, target: str) -> str:
    alt = " ".join(str(alt).split()).replace("[", "(").replace("]", ")")
    return f"![{alt}]({target})"


def link(text: str, target: str) -> str:
    return f"[{text}]({target})"
