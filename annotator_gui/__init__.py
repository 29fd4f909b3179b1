"""Annotator Style Explorer: compare how human annotators label behaviour videos.

The package is split so that file reading (`checkpoint`) and numerical work
(`analysis`) import no Qt; only `gui` does.
"""

__version__ = "0.1.0"
