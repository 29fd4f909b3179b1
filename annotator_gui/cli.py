"""Command line: open the GUI, or run `analyze` and `info` without a window.

    annotator-gui [CHECKPOINT] [--split N] [--task T] [--screenshot FILE.png [--compute]]
    annotator-gui analyze CHECKPOINT [--split N] [--task T] --out DIR
    annotator-gui info CHECKPOINT

Bad input ends with exit status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__

EXIT_BAD_INPUT = 2


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", type=int, default=0, metavar="N", help="cross-validation split to analyse (default 0)")
    parser.add_argument("--task", type=int, default=0, metavar="T", help="task head whose embedding is clustered (default 0, the Task 1/2 head)")


def _build_analyze_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator-gui analyze",
        description="Cluster annotators by learned embedding and by predictions; write JSON, CSV and PNG files.",
    )
    parser.add_argument("checkpoint", help="training-result file written by torch.save")
    _add_selection(parser)
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for analysis.json, CSV tables and figures")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.add_argument(
        "--linkage",
        default="ward",
        choices=("ward", "average", "complete", "single", "weighted"),
        help="linkage method of both trees (default ward; the embedding and prediction distances are euclidean)",
    )
    parser.add_argument(
        "--optimal-ordering", action="store_true", help="reorder leaves so that neighbours are as close as possible"
    )
    parser.add_argument(
        "--no-trust", action="store_true", help="skip tree comparison, bootstrap support and split consensus"
    )
    parser.add_argument(
        "--all-splits",
        action="store_true",
        help="compare predictions averaged per frame over every split's model (the submitted ensemble) "
        "instead of split N's; the embedding is still split N's",
    )
    return parser


def _build_info_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="annotator-gui info", description="Print a JSON summary of a checkpoint.")
    parser.add_argument("checkpoint", help="training-result file written by torch.save")
    return parser


def _build_gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator-gui",
        description="Annotator Style Explorer. Subcommands: 'analyze' and 'info' (see 'annotator-gui analyze --help').",
    )
    parser.add_argument("checkpoint", nargs="?", help="checkpoint to open (default: the bundled sample)")
    _add_selection(parser)
    parser.add_argument("--screenshot", type=Path, metavar="FILE.png", help="render the window offscreen to FILE.png and exit")
    parser.add_argument("--compute", action="store_true", help="with --screenshot: compute prediction distances first")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation on the bundled sample (reading, distances, clustering, offscreen rendering) and exit; exit status 0 when every check passes",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _fail(message: str) -> int:
    print(f"annotator-gui: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_info(arguments: argparse.Namespace) -> int:
    from .checkpoint import CheckpointError, open_checkpoint
    from .summary import checkpoint_summary

    try:
        with open_checkpoint(arguments.checkpoint) as checkpoint:
            summary = checkpoint_summary(checkpoint)
    except CheckpointError as error:
        return _fail(str(error))
    print(json.dumps(summary, indent=1))
    return 0


def run_analyze(arguments: argparse.Namespace) -> int:
    from .analysis.pipeline import (
        analysis_record,
        assess_clusterings,
        cluster_embedding,
        compare_predictions,
        compare_predictions_all_splits,
    )
    from .checkpoint import CheckpointError, open_checkpoint
    from .report import write_json, write_tables

    out_dir: Path = arguments.out
    if out_dir.exists() and not out_dir.is_dir():
        return _fail(f"{out_dir}: --out must be a folder, but a file of that name exists")
    try:
        with open_checkpoint(arguments.checkpoint) as checkpoint:
            split = checkpoint.split(arguments.split)
            clustering = {"method": arguments.linkage, "optimal_ordering": arguments.optimal_ordering}
            embedding = cluster_embedding(split, arguments.task, **clustering)
            if arguments.all_splits:
                predictions = compare_predictions_all_splits(checkpoint, **clustering)
            else:
                predictions = compare_predictions(split, **clustering)
            trust = None if arguments.no_trust else assess_clusterings(checkpoint, embedding, predictions)
            record = analysis_record(checkpoint, embedding, predictions, trust)
    except CheckpointError as error:
        return _fail(str(error))
    except ValueError as error:
        return _fail(f"{arguments.checkpoint}: {error}")
    try:
        write_json(out_dir / "analysis.json", record)
        write_tables(out_dir, record)
        if not arguments.no_figures:
            from .gui.figures import write_figures

            checkpoint_name = Path(arguments.checkpoint).name
            write_figures(out_dir, embedding, predictions, trust=trust, checkpoint_name=checkpoint_name)
    except OSError as error:
        return _fail(f"cannot write to {out_dir}: {error.strerror or error}")
    if arguments.all_splits:
        print(f"wrote analysis of all splits' averaged predictions and split {record['split']}, task {record['task']} to {out_dir}")
    else:
        print(f"wrote analysis of split {record['split']}, task {record['task']} to {out_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "analyze":
        return run_analyze(_build_analyze_parser().parse_args(argv[1:]))
    if argv and argv[0] == "info":
        return run_info(_build_info_parser().parse_args(argv[1:]))
    arguments = _build_gui_parser().parse_args(argv)
    if arguments.self_test:
        from .selftest import run_self_test

        return run_self_test()
    from .gui.app import run_gui

    return run_gui(arguments)


if __name__ == "__main__":
    sys.exit(main())
