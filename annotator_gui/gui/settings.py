"""Persistent settings: the recent-files list, stored in QSettings with a version number."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

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

    def sync(self) -> None:
        self._settings.sync()
