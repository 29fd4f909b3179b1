"""The Qt window of Annotator Style Explorer: panes, workers and the shared highlight.

Modules outside this package import no Qt; everything here runs on the GUI
thread except the plain functions that `worker.BackgroundWorker` runs.
"""
