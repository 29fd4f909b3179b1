"""Read MABe training-result checkpoints without torch and without running code.

`open_checkpoint(path)` accepts both layouts of `torch.save` and returns a
`Checkpoint` whose splits read embeddings and logits lazily. Every problem
with the file is raised as `CheckpointError`, whose message names the file.
"""

from __future__ import annotations

import os

from .containers import ProgressCallback, detect_format, load_legacy, load_zip
from .errors import CheckpointError
from .model import BEHAVIORS, Checkpoint, Split, build_splits
from .source import SharedFile

__all__ = ["BEHAVIORS", "Checkpoint", "CheckpointError", "Split", "open_checkpoint"]


def open_checkpoint(path: str | os.PathLike, progress: ProgressCallback | None = None) -> Checkpoint:
    """Open a checkpoint and index it; tensor data and logits stay on disk.

    `progress(bytes_done, bytes_total)` is called now and then while the file
    is scanned.
    """
    path = os.fspath(path)
    try:
        file = SharedFile(path)
    except IsADirectoryError:
        raise CheckpointError("is a folder, not a checkpoint file", path) from None
    except FileNotFoundError:
        raise CheckpointError("file not found", path) from None
    except OSError as error:
        raise CheckpointError(f"cannot be read: {error.strerror or error}", path) from None
    try:
        layout = detect_format(file)
        root = load_zip(file, progress) if layout == "zip" else load_legacy(file, progress)
        splits = build_splits(root, path)
    except CheckpointError as error:
        file.close()
        raise error.with_path(path) from None
    except BaseException:
        file.close()
        raise
    return Checkpoint(path=path, format=layout, file_size=file.size, splits=splits, _file=file)
