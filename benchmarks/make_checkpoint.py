"""Write synthetic MABe training-result checkpoints of realistic size.

The files have the layout that the MABe 2021 Task 1/2 winning solution
(github.com/nebw/mabe, `mabe/training.py`) writes with `torch.save`. That is a
list of `mabe.training.TrainingResult` objects, one per cross-validation split.
Each holds full copies of the encoder (`ConvCPC`) and head
(`MultiAnnotatorLogisticRegressionHead`) state dicts for every task and epoch,
and `np.savez_compressed` blobs of test logits per sequence and annotator.
Every number is random, drawn from a seeded generator.

Usage as a module:

    from make_checkpoint import write_checkpoint
    write_checkpoint("small.pt", sequences=3, frames=300, num_context=32, num_embeddings=16)

Usage from the command line (`--help` lists every option):

    python benchmarks/make_checkpoint.py out.pt --splits 1 --epochs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import pathlib
import sys
import types
from collections import defaultdict

import numpy as np
import torch

#: Tasks of the checkpoint: 0 is the Task 1/2 head, 1-7 are the extra Task 3 behaviours.
TASKS = tuple(range(8))
#: Classes of the Task 1/2 logits: attack, investigation, mount, other.
TASK1_CLASSES = 4
#: Classes of each extra Task 3 behaviour (present or absent).
TASK3_CLASSES = 2

# Model hyperparameters that do not scale with the model size, as in the
# reference files written by the upstream code.
INPUT_FEATURES = 56
EXTRA_FEATURES = 4
EMBEDDER_BLOCKS = 3
CONTEXT_BLOCKS = 8
NUM_AHEAD = 256
NUM_AHEAD_SUBSAMPLING = 32

#: Sizes of the published winning model.
PUBLISHED_NUM_CONTEXT = 512
PUBLISHED_NUM_EMBEDDINGS = 128

LAYOUTS = ("legacy", "zip")


# -- the classes that the checkpoint pickles name -------------------------------


def _config_defaults() -> dict:
    """Return the `TrainingConfig` fields and values of the upstream reference files."""
    return {
        "split_idx": 0,
        "feature_path": pathlib.PosixPath("/srv/data/mabe/features.hdf5"),
        "batch_size": 32,
        "num_epochs": 40,
        "subsample_length": 256,
        "num_embeddings": PUBLISHED_NUM_EMBEDDINGS,
        "num_context": PUBLISHED_NUM_CONTEXT,
        "num_ahead": NUM_AHEAD,
        "num_ahead_subsampling": NUM_AHEAD_SUBSAMPLING,
        "num_embedder_blocks": EMBEDDER_BLOCKS,
        "input_dropout": 0.0,
        "head_dropout": 0.0,
        "dropout": 0.0,
        "clf_loss_scaling": 1.0,
        "label_smoothing": 0.2,
        "optimizer": "MADGRAD",
        "learning_rate": 0.01,
        "weight_decay": 1e-05,
        "scheduler": "cosine_annealing",
        "augmentation_random_noise": 0.0,
        "use_extra_features": True,
        "extra_task_loss_scaler": 0.1,
        "dark_annotator_loss_scaler": 0.2,
        "dark_knowledge_loss_scaler": 0.0,
        "fade_out_dark_knowledge": False,
        "test_run": False,
        "label_smoothing_task3": True,
        "use_best_task0": False,
    }


def _training_config_fields() -> list[tuple[str, type, dataclasses.Field]]:
    return [(name, type(value), dataclasses.field(default=value)) for name, value in _config_defaults().items()]


def _new_object(cls: type, attributes: dict):
    # Filled in the way unpickling does (no __init__ call), so that a
    # `mabe.training` registered elsewhere, with other constructors, also works.
    instance = cls.__new__(cls)
    instance.__dict__.update(attributes)
    return instance


_RESULT_FIELDS = (
    "config",
    "losses",
    "clf_losses",
    "clf_val_f1s",
    "best_val_f1",
    "best_params",
    "final_params",
    "test_predictions",
    "test_logits",
    "task3_test_logits",
    "params_by_epoch",
)


def install_training_classes() -> types.ModuleType:
    """Register a stand-in `mabe.training` module with `TrainingConfig` and `TrainingResult`.

    `torch.save` pickles objects by module and class name, and `torch.load`
    imports that module, so both need it. Returns the module in use, and
    an already imported `mabe.training` that has both classes is kept.
    """
    existing = sys.modules.get("mabe.training")
    if existing is not None and hasattr(existing, "TrainingConfig") and hasattr(existing, "TrainingResult"):
        return existing
    module = types.ModuleType("mabe.training")
    namespace = {"__module__": "mabe.training"}
    module.TrainingConfig = dataclasses.make_dataclass(
        "TrainingConfig", _training_config_fields(), namespace=namespace
    )
    module.TrainingResult = dataclasses.make_dataclass(
        "TrainingResult", [(name, object) for name in _RESULT_FIELDS], namespace=namespace
    )
    package = sys.modules.get("mabe")
    if package is None:
        package = types.ModuleType("mabe")
        package.__path__ = []
        sys.modules["mabe"] = package
    package.training = module
    sys.modules["mabe.training"] = module
    return module


# -- parameter shapes -------------------------------------------------------------


def _residual_block(prefix: str, channels: int, kernel_size: int) -> list[tuple[str, tuple]]:
    return [
        (f"{prefix}.conv1.weight", (channels, channels, kernel_size)),
        (f"{prefix}.conv1.bias", (channels,)),
        (f"{prefix}.conv2.weight", (channels, channels, kernel_size)),
        (f"{prefix}.conv2.bias", (channels,)),
        (f"{prefix}.layer_norm1.weight", (channels,)),
        (f"{prefix}.layer_norm1.bias", (channels,)),
        (f"{prefix}.layer_norm2.weight", (channels,)),
        (f"{prefix}.layer_norm2.bias", (channels,)),
    ]


def encoder_shapes(num_context: int, num_embeddings: int) -> dict[str, tuple]:
    """Return the `ConvCPC` state-dict keys and tensor shapes, in state-dict order."""
    shapes = [
        ("embedder.head.weight", (num_embeddings, INPUT_FEATURES, 1)),
        ("embedder.head.bias", (num_embeddings,)),
    ]
    # The embedder has two pointwise blocks before its kernel-3 blocks.
    kernel_sizes = [1, 1] + [3] * EMBEDDER_BLOCKS
    for index, kernel_size in enumerate(kernel_sizes):
        shapes += _residual_block(f"embedder.convolutions.{index}", num_embeddings, kernel_size)
    shapes += [
        ("contexter.head.conv.weight", (num_context, num_embeddings, 3)),
        ("contexter.head.conv.bias", (num_context,)),
    ]
    for index in range(CONTEXT_BLOCKS):
        shapes += _residual_block(f"contexter.convolutions.{index}", num_context, 3)
    for index in range(NUM_AHEAD // NUM_AHEAD_SUBSAMPLING):
        shapes.append((f"projections.{index}.weight", (num_embeddings, num_context)))
    return dict(shapes)


def head_shapes(num_context: int, annotators: int) -> dict[str, tuple]:
    """Return the `MultiAnnotatorLogisticRegressionHead` keys and shapes, in state-dict order."""
    combined = num_context + EXTRA_FEATURES
    shapes = [
        ("embedding", (annotators, annotators)),
        ("ln.weight", (num_context,)),
        ("ln.bias", (num_context,)),
    ]
    for task in TASKS:
        classes = TASK1_CLASSES if task == 0 else TASK3_CLASSES
        shapes += [(f"logregs.{task}.weight", (classes, combined)), (f"logregs.{task}.bias", (classes,))]
    shapes += [
        ("residual.0.weight", (combined, combined + annotators)),
        ("residual.0.bias", (combined,)),
        ("residual.2.weight", (combined, combined)),
        ("residual.2.bias", (combined,)),
    ]
    return dict(shapes)


def model_copy_bytes(num_context: int, num_embeddings: int, annotators: int) -> int:
    """Return the float32 bytes of one (encoder, head) parameter copy."""
    shapes = list(encoder_shapes(num_context, num_embeddings).values())
    shapes += list(head_shapes(num_context, annotators).values())
    return 4 * sum(int(np.prod(shape)) for shape in shapes)


def _random_state_dict(rng: np.random.Generator, shapes: dict[str, tuple]) -> dict[str, torch.Tensor]:
    # Each copy gets its own storages, as after training. torch.save writes a
    # shared storage only once, so sharing would make the file unrealistically small.
    return {
        key: torch.from_numpy(rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05))
        for key, shape in shapes.items()
    }


def _model_copy(rng, num_context, num_embeddings, annotators, embedding):
    encoder = _random_state_dict(rng, encoder_shapes(num_context, num_embeddings))
    head = _random_state_dict(rng, head_shapes(num_context, annotators))
    head["embedding"] = torch.from_numpy(embedding.astype(np.float32))
    return encoder, head


def _learned_embedding(rng: np.random.Generator, annotators: int) -> np.ndarray:
    # The head starts from an identity matrix, and a trained one stays close to it.
    return np.eye(annotators) * rng.uniform(1.5, 2.0) + rng.normal(0.0, 0.25, (annotators, annotators))


# -- test-set predictions -----------------------------------------------------------


def sequence_lengths(rng: np.random.Generator, sequences: int, frames: int) -> np.ndarray:
    """Split `frames` logit rows into `sequences` lengths of at least one row that add up exactly."""
    if sequences < 1:
        raise ValueError(f"sequences must be at least 1, got {sequences}")
    if frames < sequences:
        raise ValueError(f"frames ({frames}) must be at least the number of sequences ({sequences})")
    weights = rng.uniform(0.4, 1.6, sequences)
    spare = frames - sequences
    lengths = 1 + np.floor(weights / weights.sum() * spare).astype(np.int64)
    # Rounding down leaves fewer than `sequences` rows over, so the first sequences get one each.
    lengths[: frames - int(lengths.sum())] += 1
    return lengths


def sequence_ids(rng: np.random.Generator, sequences: int) -> list[str]:
    """Return distinct 16-digit hexadecimal ids, the form of MABe sequence ids."""
    ids: list[str] = []
    seen = set()
    while len(ids) < sequences:
        candidate = f"{int(rng.integers(0, 1 << 63)):016x}"
        if candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)
    return ids


def npz_bytes(array: np.ndarray) -> bytes:
    """Return `np.savez_compressed` output holding `array` as `arr_0`."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, array)
    return buffer.getvalue()


def _random_walk(rng: np.random.Generator, rows: int, columns: int) -> np.ndarray:
    steps = rng.standard_normal((rows, columns)) * 0.15
    return np.cumsum(steps, axis=0) + rng.normal(0.0, 1.0, columns)


def _test_outputs(rng, ids, lengths, annotators, embedding):
    """Build `test_logits`, `test_predictions` and `task3_test_logits` of one split."""
    test_logits = defaultdict(dict)
    test_predictions = defaultdict(dict)
    task3_test_logits = defaultdict(dict)
    # Each annotator's style shifts the logits along its embedding row, so
    # annotators with similar embeddings also predict alike.
    styles = embedding @ rng.normal(0.0, 0.5, (annotators, TASK1_CLASSES))
    for sequence_id, rows in zip(ids, lengths):
        shared = _random_walk(rng, int(rows), TASK1_CLASSES)
        for annotator in range(annotators):
            # Per-frame noise of each annotator keeps the blobs of one sequence
            # from repeating one another, so zlib finds no long matches.
            noise = rng.standard_normal((int(rows), TASK1_CLASSES)) * 0.3
            logits = (shared + styles[annotator] + noise).astype(np.float32)
            test_logits[sequence_id][annotator] = npz_bytes(logits)
            test_predictions[sequence_id][annotator] = npz_bytes(logits.argmax(axis=1).astype(np.int64))
        for task in TASKS[1:]:
            logits = _random_walk(rng, int(rows), TASK3_CLASSES).astype(np.float32)
            task3_test_logits[sequence_id][task] = npz_bytes(logits)
    return test_logits, test_predictions, task3_test_logits


# -- training curves ------------------------------------------------------------------


def _training_curves(rng: np.random.Generator, epochs: int, steps_per_epoch: int = 25):
    steps = epochs * steps_per_epoch
    losses = [float(value) for value in 2.5 * np.exp(-np.arange(steps) / 200) + rng.uniform(0, 0.5, steps)]
    clf_losses = defaultdict(list)
    clf_val_f1s = defaultdict(list)
    best_val_f1 = {}
    for task in TASKS:
        clf_losses[task] = [float(value) for value in rng.uniform(0.2, 0.9, steps)]
        clf_val_f1s[task] = [np.float64(value) for value in rng.uniform(0.3, 0.9, epochs)]
        best_val_f1[task] = max(clf_val_f1s[task]) if epochs else np.float64(0.0)
    return losses, clf_losses, clf_val_f1s, best_val_f1


# -- whole checkpoints ------------------------------------------------------------------


def build_results(
    splits: int = 1,
    epochs: int = 2,
    sequences: int = 460,
    frames: int = 2_000_235,
    annotators: int = 6,
    num_context: int = PUBLISHED_NUM_CONTEXT,
    num_embeddings: int = PUBLISHED_NUM_EMBEDDINGS,
    seed: int = 0,
) -> list:
    """Build the list of `TrainingResult`s that `write_checkpoint` saves.

    `frames` is the number of logit rows per annotator, summed over all
    sequences: the total that `annotator-gui info` reports.
    """
    for name, value, minimum in (
        ("splits", splits, 1),
        ("epochs", epochs, 0),
        ("annotators", annotators, 1),
        ("num_context", num_context, 1),
        ("num_embeddings", num_embeddings, 1),
    ):
        if value < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value}")
    training = install_training_classes()
    rng = np.random.default_rng(seed)
    ids = sequence_ids(rng, sequences)
    lengths = sequence_lengths(rng, sequences, frames)
    results = []
    for split in range(splits):
        config = _new_object(
            training.TrainingConfig,
            {
                **_config_defaults(),
                "split_idx": split,
                "num_epochs": epochs,
                "num_context": num_context,
                "num_embeddings": num_embeddings,
            },
        )
        embeddings = {task: _learned_embedding(rng, annotators) for task in TASKS}

        def copy(embedding):
            return _model_copy(rng, num_context, num_embeddings, annotators, embedding)

        best_params = {task: copy(embeddings[task]) for task in TASKS}
        final_params = copy(embeddings[0])
        params_by_epoch = [copy(_learned_embedding(rng, annotators)) for _ in range(epochs)]
        test_logits, test_predictions, task3_test_logits = _test_outputs(
            rng, ids, lengths, annotators, embeddings[0]
        )
        losses, clf_losses, clf_val_f1s, best_val_f1 = _training_curves(rng, epochs)
        results.append(
            _new_object(
                training.TrainingResult,
                {
                    "config": config,
                    "losses": losses,
                    "clf_losses": clf_losses,
                    "clf_val_f1s": clf_val_f1s,
                    "best_val_f1": best_val_f1,
                    "best_params": best_params,
                    "final_params": final_params,
                    "test_predictions": test_predictions,
                    "test_logits": test_logits,
                    "task3_test_logits": task3_test_logits,
                    "params_by_epoch": params_by_epoch,
                },
            )
        )
    return results


def write_checkpoint(
    path: str | os.PathLike,
    splits: int = 1,
    epochs: int = 2,
    sequences: int = 460,
    frames: int = 2_000_235,
    annotators: int = 6,
    layout: str = "legacy",
    num_context: int = PUBLISHED_NUM_CONTEXT,
    num_embeddings: int = PUBLISHED_NUM_EMBEDDINGS,
    seed: int = 0,
) -> pathlib.Path:
    """Write a checkpoint and return its path.

    The file is written under a temporary name and renamed when complete, so
    an interrupted run never leaves a truncated file at `path`. The same seed
    gives the same values. NOTE: the bytes still differ between runs, because
    `np.savez_compressed` stamps each blob with the current time.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    path = pathlib.Path(path)
    results = build_results(splits, epochs, sequences, frames, annotators, num_context, num_embeddings, seed)
    partial = path.with_name(path.name + ".partial")
    # scripts/train.py of the upstream project writes the legacy layout.
    torch.save(results, partial, _use_new_zipfile_serialization=(layout == "zip"))
    os.replace(partial, path)
    return path


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Write a synthetic MABe training-result checkpoint.")
    parser.add_argument("path", type=pathlib.Path, help="output file")
    parser.add_argument("--splits", type=int, default=1, help="cross-validation splits (default 1)")
    parser.add_argument("--epochs", type=int, default=2, help="parameter copies in params_by_epoch (default 2)")
    parser.add_argument("--sequences", type=int, default=460, help="test sequences (default 460)")
    parser.add_argument(
        "--frames", type=int, default=2_000_235, help="logit rows per annotator over all sequences (default 2000235)"
    )
    parser.add_argument("--annotators", type=int, default=6, help="annotators (default 6)")
    parser.add_argument("--layout", choices=LAYOUTS, default="legacy", help="torch.save layout (default legacy)")
    parser.add_argument("--num-context", type=int, default=PUBLISHED_NUM_CONTEXT, help="context channels (default 512)")
    parser.add_argument(
        "--num-embeddings", type=int, default=PUBLISHED_NUM_EMBEDDINGS, help="embedding channels (default 128)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _build_parser().parse_args(argv)
    try:
        path = write_checkpoint(
            arguments.path,
            splits=arguments.splits,
            epochs=arguments.epochs,
            sequences=arguments.sequences,
            frames=arguments.frames,
            annotators=arguments.annotators,
            layout=arguments.layout,
            num_context=arguments.num_context,
            num_embeddings=arguments.num_embeddings,
            seed=arguments.seed,
        )
    except ValueError as error:
        print(f"make_checkpoint: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
