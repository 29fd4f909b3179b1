"""Write analysis results to disk: JSON, CSV tables and PNG figures.

Every file is written to a temporary name in the output folder and renamed
into place, so an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd


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
    embedding = pd.DataFrame(
        record["embedding"],
        index=pd.Index([f"annotator {row}" for row in range(len(record["embedding"]))], name="annotator"),
        columns=[f"dimension {column}" for column in range(len(record["embedding"][0]))],
    )
    distances = pd.DataFrame(
        record["prediction_distances"],
        index=pd.Index(annotators, name="annotator"),
        columns=annotators,
    )
    written = []
    for name, table in (("embedding.csv", embedding), ("prediction_distances.csv", distances)):
        path = out_dir / name
        write_atomically(path, lambda temporary, table=table: table.to_csv(temporary, float_format="%.17g"))
        written.append(path)
    return written
