"""The job that opens a checkpoint on a worker thread."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..analysis.progress import Cancelled
from ..checkpoint import Checkpoint, open_checkpoint
from ..summary import checkpoint_summary


@dataclass(frozen=True)
class BytesRead:
    """Progress of opening a file."""

    done: int
    total: int


@dataclass(frozen=True)
class OpenedCheckpoint:
    """The result of an open job."""

    checkpoint: Checkpoint
    is_sample: bool
    summary: dict


def open_job(path: str | os.PathLike, is_sample: bool = False):
    """Build the job for `BackgroundWorker.start`: open and summarise `path`, reporting `BytesRead`.

    A cancel request is noticed at the next progress report of the reader
    (about every 16 MiB), and the file is closed then.
    """
    path = os.fspath(path)

    def run(cancel_event: threading.Event, report: Callable[[object], None]) -> OpenedCheckpoint:
        def progress(done: int, total: int) -> None:
            if cancel_event.is_set():
                raise Cancelled()
            report(BytesRead(done, total))

        checkpoint = open_checkpoint(path, progress=progress)
        try:
            # The summary reads every sequence's blob header, so it is built here too.
            summary = checkpoint_summary(checkpoint)
            if cancel_event.is_set():
                raise Cancelled()
        except BaseException:
            checkpoint.close()
            raise
        return OpenedCheckpoint(checkpoint, is_sample, summary)

    return run
