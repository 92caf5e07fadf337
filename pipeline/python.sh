#!/bin/sh
# The Python that runs every DVC stage, whichever `python` is first on PATH:
#   $LANG2MOTION_PYTHON if set, else this project's .venv (made by `make`), else `python`
#   (an activated environment, or a GPU machine's own interpreter).
# So `.venv/bin/dvc repro` and `dvc exp run` work in a new shell without activating anything.
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${LANG2MOTION_PYTHON:-}" ]; then
  exec "$LANG2MOTION_PYTHON" "$@"
elif [ -x "$root/.venv/bin/python" ]; then
  exec "$root/.venv/bin/python" "$@"
else
  exec python "$@"
fi
