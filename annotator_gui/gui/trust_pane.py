"""The cluster trust pane: linkage choices, flat clusters, untangling and every tree-comparison number."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..analysis.progress import Progress
from ..analysis.support import DEFAULT_SEED
from ..analysis.trust import TrustAssessment
from .dendrogram_pane import DendrogramPane
from .metric_choice import METHOD_LABELS, WARD, ward_unavailable_reason
from .scrolling import set_scrolling_contents
from .session import Session
from .trust_texts import COMPARISON_ROWS, FOWLKES_MALLOWS_TOOLTIP, P_VALUE_TOOLTIP, format_value
from .trust_worker import TrustComputation

class TrustPane(QWidget):
    """Shows how far to trust each cluster and offers the choices that change the trees."""

    #: The user chose a linkage method or ordering: (method, optimal leaf ordering).
    linkage_chosen = Signal(str, bool)

    def __init__(self, session: Session, trust: TrustComputation, dendrograms: DendrogramPane, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._trust = trust
        self._dendrograms = dendrograms
        # Set between the computation's started and finished/failed/cancelled signals.
        self._running = False
        self._build_controls()
        self._build_results()
        self._build_layout()

        self.method_box.currentIndexChanged.connect(self._on_method_box_changed)
        self.optimal_box.toggled.connect(self._on_optimal_box_toggled)
        self.cluster_spin.valueChanged.connect(self._on_cluster_spin_changed)
        self.untangle_button.toggled.connect(self._on_untangle_button_toggled)
        self.dash_box.toggled.connect(self._on_dash_box_toggled)
        self.assess_button.clicked.connect(self._on_assess_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        trust.started.connect(self._on_trust_started)
        trust.progressed.connect(self._on_trust_progressed)
        trust.finished.connect(self._on_trust_stopped)
        trust.failed.connect(self._on_trust_stopped)
        trust.cancelled.connect(self._on_trust_cancelled)
        for signal in (session.embedding_changed, session.predictions_changed, session.leaf_orders_changed, session.trust_changed):
            signal.connect(self._on_session_changed)
        session.flat_clusters_changed.connect(self._on_flat_clusters_changed)
        self._on_session_changed()

    # Layout -------------------------------------------------------------

    def _build_controls(self) -> None:
        self.method_box = QComboBox()
        for method, label in METHOD_LABELS.items():
            self.method_box.addItem(label, method)
        self.method_box.setToolTip("How the distance between two clusters is measured when building both trees")
        self.optimal_box = QCheckBox("Optimal leaf ordering")
        self.optimal_box.setToolTip(
            "Rotate branches so that neighbouring leaves are as similar as possible "
            "(Bar-Joseph et al., 2001). The clusters stay the same; only the drawn order changes."
        )
        self.method_note = QLabel()
        self.method_note.setWordWrap(True)
        self.method_note.setStyleSheet("color: #8a4b00;")
        self.cluster_spin = QSpinBox()
        self.cluster_spin.setSpecialValueText("none")
        self.cluster_spin.setRange(1, 1)
        self.cluster_spin.setToolTip(
            "Cut both trees into this many flat clusters; each cluster gets a colour in every view. "
            "You can also drag the dashed cut line on either dendrogram."
        )
        self.untangle_button = QPushButton("Untangle")
        self.untangle_button.setCheckable(True)
        self.untangle_button.setToolTip(
            "Rotate branches of both trees to minimise the crossings of the connecting lines. "
            "Press again to go back to the default leaf order."
        )
        self.dash_box = QCheckBox("Dash merges with at most 50% support")
        self.dash_box.setToolTip(
            "Consensus view: dash the branches of every merge found in at most half of the splits "
            "(embedding tree) or of the bootstrap replicates (prediction tree)."
        )

    def _build_results(self) -> None:
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(14)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.assess_button = QPushButton("Assess")
        self.assess_button.setToolTip("Compare the trees and measure the support of every cluster again")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.drawn_label = QLabel()
        self.drawn_label.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Measure", "Value", "p-value"])
        self.table.horizontalHeaderItem(2).setToolTip(P_VALUE_TOOLTIP)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setMinimumHeight(120)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.footnote = QLabel()
        self.footnote.setWordWrap(True)
        self.consensus_list = QListWidget()
        self.consensus_list.setMinimumHeight(80)
        self.consensus_list.setToolTip(
            "Clusters found in the embedding trees of more than half of the splits, "
            "with the share of splits that contain each (a majority-rule consensus)."
        )

    def _build_layout(self) -> None:
        form = QFormLayout()
        form.addRow("Linkage:", self.method_box)
        form.addRow("", self.optimal_box)
        form.addRow("Flat clusters:", self.cluster_spin)
        trees_row = QHBoxLayout()
        trees_row.addWidget(self.untangle_button)
        trees_row.addWidget(self.dash_box, 1)
        status_row = QHBoxLayout()
        status_row.addWidget(self.progress_bar, 1)
        status_row.addWidget(self.assess_button)
        status_row.addWidget(self.cancel_button)
        contents = QWidget()
        layout = QVBoxLayout(contents)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addWidget(self.method_note)
        layout.addLayout(trees_row)
        layout.addLayout(status_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.drawn_label)
        layout.addWidget(self.table)
        layout.addWidget(self.footnote)
        layout.addWidget(QLabel("Majority-rule clusters of the splits' embedding trees:"))
        layout.addWidget(self.consensus_list, 1)
        set_scrolling_contents(self, contents)

    # Controls -----------------------------------------------------------

    def _on_method_box_changed(self, index: int) -> None:
        method = self.method_box.itemData(index)
        if method is None or method == self._session.requested_method:
            return
        self._session.set_linkage(method, self._session.optimal_ordering)
        self.linkage_chosen.emit(self._session.requested_method, self._session.optimal_ordering)

    def _on_optimal_box_toggled(self, checked: bool) -> None:
        self._session.set_linkage(self._session.requested_method, checked)
        self.linkage_chosen.emit(self._session.requested_method, self._session.optimal_ordering)

    def _on_cluster_spin_changed(self, value: int) -> None:
        self._session.set_cluster_count(0 if value < 2 else value)

    def _on_untangle_button_toggled(self, checked: bool) -> None:
        self._session.set_untangle_enabled(checked)

    def _on_dash_box_toggled(self, checked: bool) -> None:
        self._dendrograms.set_dash_weak(checked)

    def _on_assess_clicked(self) -> None:
        self._trust.start()

    def _on_cancel_clicked(self) -> None:
        self._trust.cancel()

    def _update_controls(self) -> None:
        session = self._session
        reason = ward_unavailable_reason(session.metric)
        ward_item = self.method_box.model().item(self.method_box.findData(WARD))
        ward_item.setEnabled(reason is None)
        ward_item.setToolTip(reason or "Merges the pair of clusters that least increases the within-cluster variance")
        self.method_box.blockSignals(True)
        self.method_box.setCurrentIndex(self.method_box.findData(session.method))
        self.method_box.blockSignals(False)
        self.method_note.setText(reason or "")
        self.method_note.setVisible(reason is not None)
        self.method_box.setToolTip(reason or "How the distance between two clusters is measured when building both trees")
        self.optimal_box.blockSignals(True)
        self.optimal_box.setChecked(session.optimal_ordering)
        self.optimal_box.blockSignals(False)
        self.untangle_button.setEnabled(session.trees_comparable and session.metric_view() is not None)
        self.untangle_button.blockSignals(True)
        self.untangle_button.setChecked(session.untangle_enabled)
        self.untangle_button.blockSignals(False)
        self._on_flat_clusters_changed()

    def _on_flat_clusters_changed(self) -> None:
        leaves = len(self._session.annotators)
        self.cluster_spin.blockSignals(True)
        self.cluster_spin.setRange(1, max(leaves - 1, 1))
        self.cluster_spin.setValue(max(self._session.cluster_count, 1))
        self.cluster_spin.blockSignals(False)
        self.cluster_spin.setEnabled(leaves >= 3)

    # Results ------------------------------------------------------------

    def _on_trust_started(self) -> None:
        self._running = True
        self.cancel_button.setEnabled(True)
        self.assess_button.setEnabled(False)
        self.progress_bar.setRange(0, 0)
        self.status_label.setText("Comparing the trees and measuring the support of every cluster...")

    def _on_trust_progressed(self, progress: Progress) -> None:
        self.progress_bar.setRange(0, progress.total)
        self.progress_bar.setValue(progress.done)
        self.status_label.setText(f"Bootstrap: {progress.done} of {progress.total} replicates...")

    def _on_trust_stopped(self, _result: object = None) -> None:
        self._running = False
        self.cancel_button.setEnabled(False)
        self.assess_button.setEnabled(self._session.trees_comparable)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self._on_session_changed()

    def _on_trust_cancelled(self) -> None:
        self._on_trust_stopped()
        if self._session.trust is None:
            self.status_label.setText("Cancelled; press Assess to start again.")
        else:
            self.status_label.setText("Cancelled; the numbers below are from the previous assessment of these trees.")

    def _on_session_changed(self) -> None:
        self._update_controls()
        session = self._session
        running = self._running
        self.assess_button.setEnabled(session.trees_comparable and not running)
        drawn = session.drawn_entanglement()
        if drawn is None:
            self.drawn_label.setText("")
        else:
            order = "untangled" if session.untangle_enabled else "default"
            self.drawn_label.setText(f"Entanglement of the drawn ({order}) leaf orders: {drawn:.3f}")
        assessment = session.trust
        if assessment is None:
            self._show_assessment(None)
            if running:
                return
            if session.metric_view() is None:
                self.status_label.setText("Press Compute in the distance pane: the assessment needs both trees.")
            elif not session.trees_comparable:
                self.status_label.setText("The trees have different annotators, so they cannot be compared.")
            elif not self.status_label.text().startswith("Cancelled"):
                self.status_label.setText("Waiting for the assessment.")
            return
        self._show_assessment(assessment)
        self.status_label.setText(f"Split {session.split_index}, {assessment.method} linkage, task {session.task} embedding.")

    def _show_assessment(self, assessment: TrustAssessment | None) -> None:
        self.table.setRowCount(0)
        self.consensus_list.clear()
        if assessment is None:
            self.footnote.setText("")
            return
        comparison = assessment.comparison
        record = comparison.record()
        rows = [(name, record[key], record["p_values"].get(key), tooltip) for key, name, tooltip in COMPARISON_ROWS]
        for k, value in comparison.fowlkes_mallows.items():
            rows.append((f"Fowlkes-Mallows B_{k} (k = {k})", value, None, FOWLKES_MALLOWS_TOOLTIP))
        self.table.setRowCount(len(rows))
        # Show every row without scrolling, so the notes below stay in view.
        header_height = self.table.horizontalHeader().sizeHint().height()
        self.table.setFixedHeight(header_height + 20 * len(rows) + 2 * self.table.frameWidth() + 2)
        for row, (name, value, p_value, tooltip) in enumerate(rows):
            cells = (name, format_value(value), "" if p_value is None and name.startswith("Fowlkes") else format_value(p_value))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(P_VALUE_TOOLTIP if column == 2 else tooltip)
                if column > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.footnote.setText(self._footnote(assessment))
        annotators = self._session.annotators
        if assessment.splits < 2:
            self.consensus_list.addItem(
                f"Needs at least two cross-validation splits; this file has {assessment.splits}."
            )
        for cluster, share in assessment.consensus_clusters:
            members = ", ".join(str(annotators[leaf]) for leaf in sorted(cluster))
            self.consensus_list.addItem(f"{{{members}}}: {share:.0%} of {assessment.splits} splits")

    def _footnote(self, assessment: TrustAssessment) -> str:
        comparison = assessment.comparison
        untangled = comparison.untangled
        search = "exhaustive search" if untangled.exhaustive else "greedy search (a local optimum)"
        text = (
            f"p-values: {comparison.permutations} permutations of the prediction tree's annotator labels, "
            f"seed {DEFAULT_SEED}; the smallest possible p is {1 / (comparison.permutations + 1):.3f}. "
            f"Untangling: {search} over {untangled.evaluated:,} pairs of leaf orders. "
            f"Embedding tree labels: share of the {assessment.splits} splits whose own embedding tree "
            "contains the cluster. "
        )
        if assessment.replicates:
            text += (
                f"Prediction tree labels: share of {assessment.replicates} bootstrap replicates "
                f"(test sequences resampled with replacement, seed {DEFAULT_SEED}) that contain the cluster."
            )
        else:
            text += (
                "Prediction tree labels: bootstrap support is not available for this metric, because it "
                "is not a sum over test sequences; choose the original or a per-behaviour distance."
            )
        return text

