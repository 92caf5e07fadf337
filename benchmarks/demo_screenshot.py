"""Re-take the README's screenshot of `lang2motion demo` (docs/demo.png) and print the Generate
latency, on a trained model: run it after `make demo`.

    .venv/bin/python benchmarks/demo_screenshot.py                 # models/ and data/
    .venv/bin/python benchmarks/demo_screenshot.py --model models --data data --out docs/demo.png

It runs the first browser test of tests/test_demo_browser.py (the server started like a user
starts it, Debian's Chromium through Playwright, an example picked, its object clicked, Generate
pressed, the trajectory checked) on that model, and saves the page as a small palette PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/test_demo_browser.py::test_generate_from_a_click_on_an_example"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--model", default="models", help="checkpoint folder (default models/)")
    parser.add_argument("--data", default="data", help="data folder with raw/ and features/ "
                        "(default data/)")
    parser.add_argument("--out", default="docs/demo.png", help="the screenshot (default "
                        "docs/demo.png)")
    args = parser.parse_args(argv)
    for path in (args.model, args.data):
        if not Path(path).is_dir():
            print(f"demo_screenshot: {path} is not a folder: run `make demo` first",
                  file=sys.stderr)
            return 2
    return int(pytest.main([str(ROOT / TEST), "-q", "-s", "-p", "no:cacheprovider",
                            "-c", str(ROOT / "pyproject.toml"),
                            "--demo-model", str(Path(args.model).resolve()),
                            "--demo-data", str(Path(args.data).resolve()),
                            "--demo-screenshot", str(Path(args.out).resolve())]))


if __name__ == "__main__":
    sys.exit(main())
