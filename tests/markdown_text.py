"""Report text with the tables' padding taken out, so tests can name a row by its cells.

tabulate pads every cell to its column's width (the tables read well as plain text); a test
that looks for ``| MSE (L2) | 16.8 | 0.222 |`` compares rows cell by cell through :func:`unpad`.
"""

from __future__ import annotations

import re

RULE_CELL = re.compile(r":?-+:?")


def unpad(text: str) -> str:
    """``text`` with each table row as ``| a | b |`` and each rule row as ``| --- | ---: |``."""
    lines = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if all(RULE_CELL.fullmatch(c) for c in cells):
                cells = ["---:" if c.endswith(":") else "---" for c in cells]
            line = "| " + " | ".join(cells) + " |"
        lines.append(line)
    return "\n".join(lines) + "\n"
