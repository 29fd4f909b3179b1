"""Hostile and damaged checkpoints for the reader's safety tests.

`corpus` writes files that try to run code or exhaust resources, `mutation`
damages the real fixtures for fuzzing, and `read_everything` does what the
application does with an opened file.
"""

from __future__ import annotations


def read_everything(checkpoint) -> int:
    """Read every split's task-0 embedding, frame count and logits; return the logit rows read."""
    rows = 0
    for split in checkpoint.splits:
        split.embedding(0)
        split.total_frames()
        for sequence_id in split.sequence_ids:
            for annotator in split.annotators:
                rows += split.logits(sequence_id, annotator).shape[0]
    return rows
