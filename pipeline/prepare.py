"""DVC stage `prepare`: the MeViS-layout splits under data/raw (synthetic, or MeViS in place).

Reads the params section ``data``; writes ``<out>/<split>/`` and a JSON summary (videos,
expressions, frames, samples and every skipped expression with its reason).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lang2motion.config import load_params
from lang2motion.data.prepare import prepare_data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/raw", help="folder for the <split>/ folders")
    parser.add_argument("--summary", default="reports/prepare_summary.json")
    args = parser.parse_args(argv)

    data = load_params(args.params, "data")["data"]
    summary = prepare_data(data, Path(args.out), summary_path=Path(args.summary))
    for name, split in summary["splits"].items():
        skipped = {k: v for k, v in split["skipped_by_reason"].items() if v}
        print(f"{name}: {split['videos']} videos, {split['expressions']} expressions, "
              f"{split['frames']} frames, {split['samples']} samples; "
              f"skipped: {skipped or 'none'}")


if __name__ == "__main__":
    main()
