"""Write analysis results to disk: JSON, CSV tables and PNG figures.

Every file is written to a temporary name in the output folder and renamed
into place, so an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path


def _current_umask() -> int:
    # os.umask can only be read by setting it; set it back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, write) -> None:
    """Call `write(temporary_path)`, then rename the result to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        # mkstemp creates files readable by the owner only; give the result the
        # permissions of a plainly created file, so colleagues can read it.
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, record: dict) -> None:
    def write(temporary: Path) -> None:
        temporary.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n", encoding="utf-8")

    write_atomically(path, write)


def write_tables(out_dir: Path, record: dict) -> list[Path]:
    """Write embedding.csv and prediction_distances.csv; return their paths."""
    annotators = [f"annotator {annotator}" for annotator in record["annotators"]]
    embedding_rows = [f"annotator {row}" for row in range(len(record["embedding"]))]
    dimensions = [f"dimension {column}" for column in range(len(record["embedding"][0]))]
    tables = {
        "embedding.csv": (embedding_rows, dimensions, record["embedding"]),
        "prediction_distances.csv": (annotators, annotators, record["prediction_distances"]),
    }
    written = []
    for name, table in tables.items():
        path = out_dir / name
        write_atomically(path, lambda temporary, table=table: _write_csv(temporary, *table))
        written.append(path)
    return written


def _write_csv(path: Path, row_names: list[str], column_names: list[str], values) -> None:
    """Write a labelled table; floats use Python's shortest repr, which reads back to the same value."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["annotator", *column_names])
        for name, row in zip(row_names, values):
            writer.writerow([name, *(repr(float(value)) for value in row)])
