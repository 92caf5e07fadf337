"""Exceptions raised on bad input. Every message names the file or sample and what is wrong."""

DETAIL_CHARS = 400  # how much of a library's own message an error repeats


def detail(exc: BaseException) -> str:
    """A library's message on one line, shortened: errors quote it, never dump it."""
    return " ".join(str(exc).split())[:DETAIL_CHARS]


class Lang2MotionError(Exception):
    """Base class: an error a user can fix by changing input, parameters or installation."""


class DataError(Lang2MotionError, ValueError):
    """Input data (frames, masks, annotations, tracks, features) is missing or malformed."""


class ConfigError(Lang2MotionError, ValueError):
    """A parameter is unknown, missing or has an invalid value."""


class DependencyError(Lang2MotionError, ImportError):
    """An optional package, model checkpoint or data set is not available; says how to get it."""
