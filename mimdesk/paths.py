"""Where MIMDesk keeps its files, following each platform's conventions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "mimdesk"
STORE_FILE = "mimdesk.sqlite"


@dataclass(frozen=True)
class Paths:
    """The data folder (store, backups), the settings file and the log folder."""

    data_dir: Path
    config_file: Path
    log_dir: Path

    @property
    def store(self) -> Path:
        return self.data_dir / STORE_FILE

    @property
    def backups(self) -> Path:
        return self.data_dir / "backups"

    @property
    def recovery(self) -> Path:
        return self.data_dir / "recovery"

    def for_demo(self) -> Paths:
        """The demo store lives apart, so sample incidents never mix with real ones."""
        return Paths(self.data_dir / "demo", self.config_file, self.log_dir)


def resolve(data_dir: str | None = None, config: str | None = None) -> Paths:
    """Options win, then MIMDESK_DATA_DIR / MIMDESK_CONFIG; else defaults."""
    data = data_dir or os.environ.get("MIMDESK_DATA_DIR")
    conf = config or os.environ.get("MIMDESK_CONFIG")
    data_path = Path(data).expanduser() if data else platformdirs.user_data_path(APP)
    conf_path = (
        Path(conf).expanduser()
        if conf
        else platformdirs.user_config_path(APP) / "settings.toml"
    )
    log_dir = data_path / "logs" if data else platformdirs.user_log_path(APP)
    return Paths(data_path.resolve(), conf_path, log_dir)


def exercises_dir(paths: Paths) -> Path:
    """Each exercise run keeps its own store in a folder under here."""
    return paths.data_dir / "exercises"


def for_exercise(paths: Paths, run_dir: Path) -> Paths:
    """An exercise's store lives in its run folder, apart from real incidents."""
    return Paths(run_dir, paths.config_file, paths.log_dir)
