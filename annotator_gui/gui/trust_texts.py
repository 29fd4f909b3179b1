"""What the trust pane writes: the names and tooltips of the tree-comparison measures, and number formats."""

from __future__ import annotations

import math

#: Tree-comparison rows: the key in `TreeComparison.record()`, the row name, and its tooltip.
COMPARISON_ROWS = (
    (
        "cophenetic_correlation_embedding",
        "Cophenetic correlation, embedding tree",
        "Pearson correlation between the height at which the embedding tree joins two annotators "
        "and the euclidean distance between their embedding rows. Near 1: the tree shows the "
        "distances faithfully. Higher is better.",
    ),
    (
        "cophenetic_correlation_prediction",
        "Cophenetic correlation, prediction tree",
        "Pearson correlation between the height at which the prediction tree joins two annotators "
        "and their distance under the chosen metric. Near 1: the tree shows the distances "
        "faithfully. Higher is better.",
    ),
    (
        "cophenetic_correlation_between",
        "Cophenetic correlation between the trees",
        "Pearson correlation between the two trees' joining heights over all annotator pairs. "
        "Higher means the trees agree on which annotators join early.",
    ),
    (
        "bakers_gamma",
        "Baker's gamma",
        "Spearman correlation, over annotator pairs, of the largest number of clusters at which "
        "the pair still shares a cluster in one tree and in the other. 1: the same nesting, "
        "0: unrelated, negative: opposite. Higher is better.",
    ),
    (
        "entanglement",
        "Entanglement, default leaf orders",
        "How much the lines joining the trees cross in the default leaf orders: 0 when they run "
        "parallel, 1 when one order is the other reversed. Lower is better. It depends on how the "
        "branches are rotated, which the clustering leaves open.",
    ),
    (
        "entanglement_untangled",
        "Entanglement after untangling",
        "Entanglement after rotating branches of both trees to make it as low as possible. "
        "Rotating changes no cluster, so this is the fairer comparison. Lower is better.",
    ),
)

FOWLKES_MALLOWS_TOOLTIP = (
    "Fowlkes-Mallows index B_k of the cuts of both trees into k flat clusters: the annotator pairs "
    "together in both cuts divided by the geometric mean of the pairs together in each. 1: the same "
    "flat clusters, 0: no pair together in both. Higher is better. No permutation p-value is computed."
)

P_VALUE_TOOLTIP = (
    "One-sided permutation p-value: the share of random relabellings of the prediction tree's "
    "annotators that agree with the embedding tree at least as well (for entanglement: at most as "
    "much crossing), counting the observed labelling as one. Small values mean the agreement is "
    "unlikely by chance."
)


def format_value(value: float | None) -> str:
    """Format a metric or p-value with three decimals, or "n/a" when it could not be computed."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    # Adding 0.0 turns a value that rounds to -0.000 into 0.000.
    return f"{round(value, 3) + 0.0:.3f}"
