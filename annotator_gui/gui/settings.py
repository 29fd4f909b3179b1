"""Persistent settings: recent files and the linkage choice, stored in QSettings with a version number."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

from ..analysis.clustering import LINKAGE_METHODS

ORGANIZATION = "annotator-gui"
APPLICATION = "Annotator Style Explorer"
#: Version of the layout of the stored keys; raise it and migrate in `_migrate` when they change.
SETTINGS_VERSION = 1
MAX_RECENT_FILES = 8


def open_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


class AppSettings:
    """Typed access to the stored settings."""

    def __init__(self, settings: QSettings):
        self._settings = settings
        self._migrate()

    def _migrate(self) -> None:
        stored = self._settings.value("version", 0, type=int)
        if stored > SETTINGS_VERSION:
            # Written by a newer release: read what is understood, write nothing back.
            return
        if stored < SETTINGS_VERSION:
            # Version 0 is an empty store; no older layout exists yet.
            self._settings.setValue("version", SETTINGS_VERSION)

    def recent_files(self) -> list[str]:
        value = self._settings.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a one-item list as a plain string
            value = [value]
        return [str(path) for path in value or [] if path]

    def add_recent_file(self, path: str | os.PathLike) -> list[str]:
        """Move `path` to the front of the recent files and return the new list."""
        path = os.path.abspath(os.fspath(path))
        files = [path] + [entry for entry in self.recent_files() if entry != path]
        files = files[:MAX_RECENT_FILES]
        self._settings.setValue("recent_files", files)
        return files

    def remove_recent_file(self, path: str) -> list[str]:
        files = [entry for entry in self.recent_files() if entry != path]
        self._settings.setValue("recent_files", files)
        return files

    def linkage_method(self) -> str:
        """The stored linkage method, or "ward" when none or an unknown one is stored."""
        value = str(self._settings.value("linkage/method", "ward"))
        return value if value in LINKAGE_METHODS else "ward"

    def optimal_ordering(self) -> bool:
        return self._settings.value("linkage/optimal_ordering", False, type=bool)

    def set_linkage(self, method: str, optimal_ordering: bool) -> None:
        if method not in LINKAGE_METHODS:
            raise ValueError(f"unknown linkage method {method!r}; choose one of {', '.join(LINKAGE_METHODS)}")
        self._settings.setValue("linkage/method", method)
        self._settings.setValue("linkage/optimal_ordering", bool(optimal_ordering))

    def sync(self) -> None:
        self._settings.sync()
