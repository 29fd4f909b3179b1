"""Reading and clustering match reference values computed independently with numpy/scipy."""

from __future__ import annotations

import io

import numpy as np
import pytest

from annotator_gui.analysis.pipeline import cluster_embedding, compare_predictions
from annotator_gui.checkpoint import open_checkpoint

from .conftest import LEGACY, ZIP, expected, torch_load

CASES = [
    (LEGACY, 0, "mabe_2split_legacy.split0"),
    (LEGACY, 1, "mabe_2split_legacy.split1"),
    (ZIP, 0, "mabe_1split_zip.split0"),
]


@pytest.mark.parametrize(("path", "split", "name"), CASES)
def test_counts_match_reference(path, split, name):
    reference = expected(name)
    with open_checkpoint(path) as checkpoint:
        assert len(checkpoint.splits) == reference["splits"]
        assert len(checkpoint.split(split).sequence_ids) == reference["sequences"]
        assert checkpoint.split(split).total_frames() == reference["frames"]


@pytest.mark.parametrize(("path", "split", "name"), CASES)
def test_embedding_clustering_matches_reference(path, split, name):
    reference = expected(name)
    with open_checkpoint(path) as checkpoint:
        result = cluster_embedding(checkpoint.split(split), task=0)
    np.testing.assert_allclose(result.embedding, reference["embedding"], rtol=0, atol=1e-7)
    linkage = np.array(reference["embedding_ward_linkage"])
    np.testing.assert_array_equal(result.linkage[:, [0, 1, 3]], linkage[:, [0, 1, 3]])
    np.testing.assert_allclose(result.linkage[:, 2], linkage[:, 2], rtol=1e-6)
    assert result.leaf_order == reference["embedding_leaf_order"]


@pytest.mark.parametrize(("path", "split", "name"), CASES)
def test_prediction_clustering_matches_reference(path, split, name):
    reference = expected(name)
    with open_checkpoint(path) as checkpoint:
        result = compare_predictions(checkpoint.split(split))
    np.testing.assert_allclose(result.distances, reference["prediction_distances"], rtol=1e-6, atol=0)
    linkage = np.array(reference["prediction_ward_linkage"])
    np.testing.assert_array_equal(result.linkage[:, [0, 1, 3]], linkage[:, [0, 1, 3]])
    np.testing.assert_allclose(result.linkage[:, 2], linkage[:, 2], rtol=1e-6)
    assert result.leaf_order == reference["prediction_leaf_order"]


def test_published_embedding_ward_linkage():
    reference = expected("published_embedding")
    with open_checkpoint(LEGACY) as checkpoint:
        result = cluster_embedding(checkpoint.split(0), task=0)
    # The published values are rounded to six decimals.
    np.testing.assert_allclose(result.embedding, reference["embedding"], rtol=0, atol=1e-6)
    linkage = np.array(reference["ward_linkage"])
    np.testing.assert_array_equal(result.linkage[:, [0, 1, 3]], linkage[:, [0, 1, 3]])
    np.testing.assert_allclose(result.linkage[:, 2], linkage[:, 2], rtol=1e-6)
    assert result.leaf_order == reference["leaf_order"]


@pytest.mark.parametrize("path", [LEGACY, ZIP])
def test_reader_equals_torch_load(path):
    results = torch_load(path)
    with open_checkpoint(path) as checkpoint:
        assert len(checkpoint.splits) == len(results)
        for split, result in zip(checkpoint.splits, results):
            assert split.tasks == sorted(result.best_params)
            for task in split.tasks:
                reference = result.best_params[task][1]["embedding"].numpy()
                np.testing.assert_array_equal(split.embedding(task), reference)
            assert split.sequence_ids == list(result.test_logits)
            for sequence_id, per_annotator in result.test_logits.items():
                for annotator, blob in per_annotator.items():
                    reference = np.load(io.BytesIO(blob))["arr_0"]
                    np.testing.assert_array_equal(split.logits(sequence_id, annotator), reference)
            assert split.best_val_f1 == {task: float(value) for task, value in result.best_val_f1.items()}
            assert split.config["num_context"] == result.config.num_context
            assert split.config["feature_path"] == str(result.config.feature_path)


def test_reader_formats():
    with open_checkpoint(LEGACY) as legacy, open_checkpoint(ZIP) as archive:
        assert legacy.format == "legacy"
        assert archive.format == "zip"
