"""Bad checkpoints fail with one clear CheckpointError naming the file and the place."""

from __future__ import annotations

import io

import numpy as np
import pytest

from annotator_gui.analysis.pipeline import compare_predictions
from annotator_gui.checkpoint import CheckpointError, open_checkpoint

from .conftest import LEGACY, ZIP


def _first_sequence(results):
    return next(iter(results[0].test_logits))


def _npz(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, array)
    return buffer.getvalue()


def test_missing_file_names_it(tmp_path):
    path = tmp_path / "absent.pt"
    with pytest.raises(CheckpointError, match="absent.pt: file not found"):
        open_checkpoint(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pt: the file is empty"):
        open_checkpoint(path)


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("attack, investigation, mount\n")
    with pytest.raises(CheckpointError, match=r"notes\.txt: not a PyTorch checkpoint"):
        open_checkpoint(path)


def test_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        open_checkpoint(tmp_path)


@pytest.mark.parametrize("source", [LEGACY, ZIP], ids=["legacy", "zip"])
@pytest.mark.parametrize("fraction", [0.001, 0.3, 0.5, 0.999])
def test_truncated_file(tmp_path, source, fraction):
    data = source.read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError) as caught:
        with open_checkpoint(path) as checkpoint:
            for split in checkpoint.splits:
                split.embedding(0)
    assert str(caught.value).startswith(str(path))
    assert "truncated" in str(caught.value) or "corrupt" in str(caught.value)


def test_truncated_storage_states_sizes(tmp_path):
    # Cut inside the tensor data that follows the legacy pickle.
    data = LEGACY.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(path)
    message = str(caught.value)
    assert f"it has {len(data) // 2:,} bytes" in message
    assert "incomplete copy or download" in message


@pytest.mark.parametrize("layout", ["legacy", "zip"])
def test_missing_annotator_named(rewrite, layout):
    def drop_annotator(results):
        sequence = list(results[1].test_logits)[3]
        del results[1].test_logits[sequence][4]

    path = rewrite(drop_annotator, layout)
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "split 1" in message
    assert "annotator 4" in message


@pytest.mark.parametrize("layout", ["legacy", "zip"])
def test_corrupt_npz_blob_named(rewrite, layout):
    names = {}

    def corrupt(results):
        sequence = _first_sequence(results)
        blob = bytearray(results[0].test_logits[sequence][2])
        blob[len(blob) // 2] ^= 0xFF
        results[0].test_logits[sequence][2] = bytes(blob)
        names["sequence"] = sequence

    path = rewrite(corrupt, layout)
    with open_checkpoint(path) as checkpoint:
        with pytest.raises(CheckpointError) as caught:
            compare_predictions(checkpoint.split(0))
    message = str(caught.value)
    assert message.startswith(str(path))
    assert f"split 0, sequence {names['sequence']}, annotator 2" in message
    assert "corrupt" in message


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_logits_named(rewrite, bad_value):
    names = {}

    def poison(results):
        sequence = list(results[0].test_logits)[1]
        logits = np.load(io.BytesIO(results[0].test_logits[sequence][5]))["arr_0"].copy()
        logits[17, 2] = bad_value
        results[0].test_logits[sequence][5] = _npz(logits)
        names["sequence"] = sequence

    path = rewrite(poison)
    with open_checkpoint(path) as checkpoint:
        with pytest.raises(CheckpointError) as caught:
            compare_predictions(checkpoint.split(0))
    message = str(caught.value)
    assert f"sequence {names['sequence']}, annotator 5" in message
    assert "NaN or infinite" in message
    assert "frame 17" in message


def test_wrong_logit_shape_named(rewrite):
    def reshape(results):
        sequence = _first_sequence(results)
        results[0].test_logits[sequence][0] = _npz(np.zeros((10, 3), dtype=np.float32))

    path = rewrite(reshape)
    with open_checkpoint(path) as checkpoint:
        with pytest.raises(CheckpointError, match=r"annotator 0: logits have shape \(10, 3\)"):
            compare_predictions(checkpoint.split(0))


def test_frame_counts_differ_between_annotators(rewrite):
    def shorten(results):
        sequence = _first_sequence(results)
        logits = np.load(io.BytesIO(results[0].test_logits[sequence][3]))["arr_0"]
        results[0].test_logits[sequence][3] = _npz(logits[:-5])

    path = rewrite(shorten)
    with open_checkpoint(path) as checkpoint:
        with pytest.raises(CheckpointError, match="different frame counts"):
            compare_predictions(checkpoint.split(0))


def test_non_finite_embedding_named(rewrite):
    def poison(results):
        results[0].best_params[0][1]["embedding"][2, 3] = float("nan")

    path = rewrite(poison)
    with open_checkpoint(path) as checkpoint:
        with pytest.raises(CheckpointError, match=r"split 0, task 0: the embedding contains NaN"):
            checkpoint.split(0).embedding(0)


def test_missing_task_named():
    with open_checkpoint(LEGACY) as checkpoint:
        with pytest.raises(CheckpointError, match=r"split 0: no parameters for task 9"):
            checkpoint.split(0).embedding(9)


def test_missing_split_named():
    with open_checkpoint(LEGACY) as checkpoint:
        with pytest.raises(CheckpointError, match=r"split 5 does not exist \(the file has 2\)"):
            checkpoint.split(5)


def test_single_result_without_list(rewrite):
    path = rewrite(lambda results: results[0])
    with open_checkpoint(path) as checkpoint:
        assert len(checkpoint.splits) == 1
        assert checkpoint.split(0).embedding(0).shape == (6, 6)


def test_older_layout_without_optional_fields(rewrite):
    def strip(results):
        for result in results:
            for name in ("final_params", "params_by_epoch", "task3_test_logits", "test_predictions",
                         "clf_val_f1s", "best_val_f1", "losses", "clf_losses"):
                delattr(result, name)

    path = rewrite(strip, "zip")
    with open_checkpoint(path) as checkpoint:
        split = checkpoint.split(1)
        assert split.best_val_f1 == {}
        assert compare_predictions(split).distances.shape == (6, 6)


def test_gpu_tensors_load_on_cpu(tmp_path):
    # A legacy file saved from a GPU names the device of every storage; the
    # pickle is rewritten here because this machine has no GPU to save from.
    data = LEGACY.read_bytes()
    cpu = b"X\x03\x00\x00\x00cpu"
    assert cpu in data
    path = tmp_path / "gpu.pt"
    path.write_bytes(data.replace(cpu, b"X\x06\x00\x00\x00cuda:0"))
    with open_checkpoint(LEGACY) as original, open_checkpoint(path) as moved:
        assert {storage.location for storage in _storages(moved)} == {"cuda:0"}
        np.testing.assert_array_equal(moved.split(1).embedding(0), original.split(1).embedding(0))


def _storages(checkpoint):
    for split in checkpoint.splits:
        for head in split.heads.values():
            for tensor in head.values():
                yield tensor.storage
