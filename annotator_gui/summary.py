"""A plain-data summary of a checkpoint, for `info` and the checkpoint pane."""

from __future__ import annotations

from .checkpoint import Checkpoint


def checkpoint_summary(checkpoint: Checkpoint) -> dict:
    """Describe format, size and the content of every split (reads only blob headers)."""
    splits = []
    for split in checkpoint.splits:
        splits.append(
            {
                "split": split.index,
                "tasks": split.tasks,
                "annotators": split.annotators,
                "embedding_shape": _embedding_shape(split),
                "sequences": len(split.sequence_ids),
                "frames": split.total_frames(),
                "best_val_f1": {str(task): score for task, score in sorted(split.best_val_f1.items())},
            }
        )
    return {
        "checkpoint": checkpoint.path,
        "format": checkpoint.format,
        "file_size": checkpoint.file_size,
        "splits": len(checkpoint.splits),
        "tasks": sorted({task for split in checkpoint.splits for task in split.tasks}),
        "annotators": sorted({a for split in checkpoint.splits for a in split.annotators}),
        "sequences": [entry["sequences"] for entry in splits],
        "frames": [entry["frames"] for entry in splits],
        "per_split": splits,
    }


def _embedding_shape(split) -> list[int] | None:
    head = split.heads.get(0)
    tensor = None if head is None else head.get("embedding")
    return None if tensor is None or not hasattr(tensor, "shape") else list(tensor.shape)
