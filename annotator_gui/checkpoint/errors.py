"""The one exception type that checkpoint reading raises for bad input."""

from __future__ import annotations

import os


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
