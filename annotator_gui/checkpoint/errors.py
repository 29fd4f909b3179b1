"""The one exception type that checkpoint reading raises for bad input."""

from __future__ import annotations

import os
import reprlib

# Values in messages come from the file, so their repr is cut short in length
# and depth: a 10 MB list or a tuple nested 100,000 levels deep must not turn
# into a huge message or a RecursionError.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = 80
_SHORT_REPR.maxlong = 40
_SHORT_REPR.maxother = 80
_SHORT_REPR.maxtuple = _SHORT_REPR.maxlist = _SHORT_REPR.maxdict = 6
_SHORT_REPR.maxset = _SHORT_REPR.maxfrozenset = 6


def describe(value: object) -> str:
    """Return a repr of a value read from a file, short enough for an error message."""
    return _SHORT_REPR.repr(value)


class CheckpointError(Exception):
    """A checkpoint file is invalid, unsupported or refused as unsafe.

    The message names the file and, where it applies, the split, sequence and
    annotator, so that it can be shown to a user as it is.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        self.reason = message
        super().__init__(message if path is None else f"{self.path}: {message}")

    def with_path(self, path: str | os.PathLike) -> "CheckpointError":
        """Return a copy of this error that names `path`, unless it already names a file."""
        if self.path is not None:
            return self
        return CheckpointError(self.reason, path)
