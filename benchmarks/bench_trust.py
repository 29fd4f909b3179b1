"""Time the cluster-trust computations on a realistic checkpoint.

Runs the streaming pass once, then times (in the same process, median of
--repeats runs) the bootstrap support of the prediction tree with 1,000
replicates, the tree comparison with 999 permutations, and the cross-split
consensus, as `annotator-gui analyze` computes them.

    .venv/bin/python benchmarks/bench_trust.py --checkpoint benchmarks/out/mabe_1split_2epochs_460seq_2000235rows_legacy.pt
"""

from __future__ import annotations

import argparse
import statistics
import time

from annotator_gui.analysis.clustering import euclidean_distances
from annotator_gui.analysis.pipeline import cluster_embedding, compare_predictions
from annotator_gui.analysis.support import bootstrap_support, compare_trees
from annotator_gui.analysis.trust import embedding_trees_of_splits
from annotator_gui.checkpoint import open_checkpoint


def median_seconds(function, repeats: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint to analyse")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each step (default 5)")
    arguments = parser.parse_args()

    with open_checkpoint(arguments.checkpoint) as checkpoint:
        split = checkpoint.split(0)
        embedding = cluster_embedding(split)
        predictions = compare_predictions(split)
        squares = predictions.statistics.squared_distances.sum(axis=1)
        steps = {
            "bootstrap support, 1,000 replicates": lambda: bootstrap_support(squares, predictions.linkage),
            "tree comparison, 999 permutations": lambda: compare_trees(
                embedding.linkage, euclidean_distances(embedding.embedding), embedding.leaf_order,
                predictions.linkage, predictions.distances, predictions.leaf_order,
            ),
            "split consensus": lambda: embedding_trees_of_splits(checkpoint, 0, "ward"),
        }
        print(f"{len(split.sequence_ids)} sequences, {len(split.annotators)} annotators, "
              f"{predictions.statistics.total_frames} frames, {len(checkpoint.splits)} splits")
        for name, step in steps.items():
            median, fastest = median_seconds(step, arguments.repeats)
            print(f"{name}: median {median:.3f} s, min {fastest:.3f} s over {arguments.repeats} runs")


if __name__ == "__main__":
    main()
