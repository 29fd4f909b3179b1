"""Check the synthetic checkpoint generator against torch and against the app's reader.

The open benchmark runs on files of `benchmarks/make_checkpoint.py`, so they
must have the upstream format exactly. torch must load them, and the reader
must return the same embeddings and logits as torch.
"""

from __future__ import annotations

import collections
import importlib.util
import io
import pathlib
import subprocess
import sys
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from annotator_gui.checkpoint import open_checkpoint  # noqa: E402
from annotator_gui.summary import checkpoint_summary  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
GENERATOR_PATH = ROOT / "benchmarks" / "make_checkpoint.py"
FIXTURE = pathlib.Path(__file__).resolve().parent / "data" / "mabe_1split_zip.pt"

SMALL = dict(splits=2, epochs=3, sequences=4, frames=523, annotators=5, num_context=16, num_embeddings=8)


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_checkpoint", GENERATOR_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def _npz_array(blob: bytes) -> np.ndarray:
    with np.load(io.BytesIO(blob)) as archive:
        assert archive.files == ["arr_0"]
        return archive["arr_0"]


def _torch_load(path):
    generator.install_training_classes()
    return torch.load(path, weights_only=False)


@pytest.fixture(scope="module", params=["legacy", "zip"])
def small_checkpoint(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / f"small_{request.param}.pt"
    generator.write_checkpoint(path, layout=request.param, seed=7, **SMALL)
    return request.param, path, _torch_load(path)


def test_state_dicts_match_fixture():
    fixture = _torch_load(FIXTURE)[0]
    config = fixture.config
    encoder, head = fixture.best_params[0]
    annotators = head["embedding"].shape[0]

    expected_encoder = generator.encoder_shapes(config.num_context, config.num_embeddings)
    expected_head = generator.head_shapes(config.num_context, annotators)

    assert list(encoder) == list(expected_encoder)
    assert {key: tuple(value.shape) for key, value in encoder.items()} == expected_encoder
    assert list(head) == list(expected_head)
    assert {key: tuple(value.shape) for key, value in head.items()} == expected_head


def test_config_fields_match_fixture():
    fixture_config = vars(_torch_load(FIXTURE)[0].config)
    generated = generator.build_results(sequences=1, frames=2, epochs=0, num_context=4, num_embeddings=2)

    assert list(vars(generated[0].config)) == list(fixture_config)
    assert type(generated[0].config.feature_path) is type(fixture_config["feature_path"])


def test_published_copy_about_57_mb():
    size = generator.model_copy_bytes(512, 128, annotators=6)

    assert 55e6 < size < 59e6


def test_file_layout_matches_request(small_checkpoint):
    layout, path, _ = small_checkpoint
    head = path.read_bytes()[:4]

    if layout == "zip":
        assert head == b"PK\x03\x04"
    else:
        # Protocol 2 pickle of a long int: torch's legacy magic number comes first.
        assert head == b"\x80\x02\x8a\x0a"


def test_torch_loads_upstream_structure(small_checkpoint):
    _, _, results = small_checkpoint

    assert isinstance(results, list)
    assert len(results) == SMALL["splits"]
    for split, result in enumerate(results):
        assert type(result).__module__ == "mabe.training"
        assert type(result).__name__ == "TrainingResult"
        assert type(result.config).__name__ == "TrainingConfig"
        assert result.config.split_idx == split
        assert isinstance(result.config.feature_path, pathlib.PosixPath)
        assert list(vars(result)) == list(generator._RESULT_FIELDS)
        for name in ("test_logits", "test_predictions", "task3_test_logits"):
            assert isinstance(getattr(result, name), collections.defaultdict)
            assert getattr(result, name).default_factory is dict
        for name in ("clf_losses", "clf_val_f1s"):
            assert getattr(result, name).default_factory is list
        assert all(type(score) is np.float64 for score in result.best_val_f1.values())
        assert all(type(score) is np.float64 for scores in result.clf_val_f1s.values() for score in scores)


def test_torch_loads_every_parameter_copy(small_checkpoint):
    _, _, results = small_checkpoint
    encoder_keys = list(generator.encoder_shapes(SMALL["num_context"], SMALL["num_embeddings"]))
    head_keys = list(generator.head_shapes(SMALL["num_context"], SMALL["annotators"]))

    for result in results:
        assert sorted(result.best_params) == list(range(8))
        assert isinstance(result.final_params, tuple)
        assert len(result.params_by_epoch) == SMALL["epochs"]
        copies = list(result.best_params.values()) + [result.final_params] + result.params_by_epoch
        storages = set()
        for encoder, head in copies:
            assert list(encoder) == encoder_keys
            assert list(head) == head_keys
            for tensor in list(encoder.values()) + list(head.values()):
                assert tensor.dtype == torch.float32
                storages.add(tensor.untyped_storage().data_ptr())
        # Every tensor has its own storage, as in a real file.
        assert len(storages) == len(copies) * (len(encoder_keys) + len(head_keys))


def test_torch_loads_test_outputs(small_checkpoint):
    _, _, results = small_checkpoint

    for result in results:
        assert len(result.test_logits) == SMALL["sequences"]
        total_rows = 0
        for sequence_id, per_annotator in result.test_logits.items():
            assert len(sequence_id) == 16
            assert sorted(per_annotator) == list(range(SMALL["annotators"]))
            first = _npz_array(per_annotator[0])
            total_rows += first.shape[0]
            for annotator, blob in per_annotator.items():
                logits = _npz_array(blob)
                assert logits.dtype == np.float32
                assert logits.shape == (first.shape[0], 4)
                predictions = _npz_array(result.test_predictions[sequence_id][annotator])
                assert predictions.dtype == np.int64
                np.testing.assert_array_equal(predictions, logits.argmax(axis=1))
            assert sorted(result.task3_test_logits[sequence_id]) == list(range(1, 8))
            for blob in result.task3_test_logits[sequence_id].values():
                task3 = _npz_array(blob)
                assert task3.dtype == np.float32
                assert task3.shape == (first.shape[0], 2)
        assert total_rows == SMALL["frames"]


def test_reader_matches_torch(small_checkpoint):
    _, path, results = small_checkpoint

    with open_checkpoint(path) as checkpoint:
        assert len(checkpoint.splits) == len(results)
        for split, result in zip(checkpoint.splits, results):
            assert split.sequence_ids == list(result.test_logits)
            assert split.annotators == list(range(SMALL["annotators"]))
            for task, (_, head) in result.best_params.items():
                expected = head["embedding"].numpy().astype(np.float64)
                np.testing.assert_array_equal(split.embedding(task), expected)
            for sequence_id, per_annotator in result.test_logits.items():
                for annotator, blob in per_annotator.items():
                    np.testing.assert_array_equal(split.logits(sequence_id, annotator), _npz_array(blob))


def test_reader_summary_counts(small_checkpoint):
    _, path, _ = small_checkpoint

    with open_checkpoint(path) as checkpoint:
        summary = checkpoint_summary(checkpoint)

    assert summary["splits"] == SMALL["splits"]
    assert summary["sequences"] == [SMALL["sequences"]] * SMALL["splits"]
    assert summary["frames"] == [SMALL["frames"]] * SMALL["splits"]
    assert summary["tasks"] == list(range(8))


def test_same_seed_same_values():
    sizes = dict(sequences=2, frames=40, epochs=1, num_context=4, num_embeddings=2)
    first = generator.build_results(seed=3, **sizes)[0]
    again = generator.build_results(seed=3, **sizes)[0]
    other = generator.build_results(seed=4, **sizes)[0]

    assert list(first.test_logits) == list(again.test_logits)
    for sequence_id in first.test_logits:
        np.testing.assert_array_equal(
            _npz_array(first.test_logits[sequence_id][0]), _npz_array(again.test_logits[sequence_id][0])
        )
    assert torch.equal(first.best_params[0][1]["embedding"], again.best_params[0][1]["embedding"])
    assert not torch.equal(first.best_params[0][1]["embedding"], other.best_params[0][1]["embedding"])


def test_logits_do_not_compress():
    result = generator.build_results(sequences=2, frames=8000, annotators=3, epochs=0, num_context=4, num_embeddings=2)[0]
    blobs = [blob for per_annotator in result.test_logits.values() for blob in per_annotator.values()]

    assert len(set(blobs)) == len(blobs)
    for blob in blobs:
        raw = _npz_array(blob).nbytes
        # Repeating values would shrink far below this.
        assert len(blob) > 0.7 * raw
    # Blobs of one sequence share no long runs either.
    joined = b"".join(blobs[:3])
    assert len(zlib.compress(joined)) > 0.95 * len(joined)


@pytest.mark.parametrize("sequences, frames", [(1, 1), (3, 3), (7, 1000), (460, 2_000_235)])
def test_sequence_lengths_add_up(sequences, frames):
    lengths = generator.sequence_lengths(np.random.default_rng(0), sequences, frames)

    assert len(lengths) == sequences
    assert int(lengths.sum()) == frames
    assert int(lengths.min()) >= 1


def test_sequence_lengths_reject_too_few_frames():
    with pytest.raises(ValueError, match="frames"):
        generator.sequence_lengths(np.random.default_rng(0), 5, 4)


def test_write_rejects_unknown_layout(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        generator.write_checkpoint(tmp_path / "x.pt", layout="tar", sequences=1, frames=1)
    assert not (tmp_path / "x.pt").exists()


def test_command_line_writes_file(tmp_path):
    path = tmp_path / "cli.pt"
    command = [sys.executable, str(GENERATOR_PATH), str(path), "--sequences", "2", "--frames", "30"]
    command += ["--epochs", "0", "--num-context", "4", "--num-embeddings", "2", "--layout", "zip"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert completed.returncode == 0, completed.stderr
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    assert not path.with_name("cli.pt.partial").exists()


def test_command_line_rejects_bad_sizes(tmp_path):
    command = [sys.executable, str(GENERATOR_PATH), str(tmp_path / "bad.pt"), "--sequences", "5", "--frames", "2"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert completed.returncode == 2
    assert "frames (2) must be at least the number of sequences (5)" in completed.stderr
