"""The production layout (docker-compose.yml, not run here: no Docker engine on these machines) shares with
the hotline every folder of Asterisk's that the hotline reads or writes, at the paths its settings name."""

from __future__ import annotations

from pathlib import Path

import yaml

from hotline.recordings import PRODUCTION_FOLDER
from hotline.settings import PROJECT_ROOT, Settings


def mounts(service: dict[str, object]) -> dict[str, tuple[str, bool]]:
    """Container path → (volume, writable)."""
    found = {}
    for entry in service.get("volumes", []):  # type: ignore[attr-defined]
        volume, path, *mode = str(entry).split(":")
        found[path] = (volume, "ro" not in mode)
    return found


def test_the_hotline_shares_asterisks_folders_at_the_paths_of_its_settings() -> None:
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    asterisk, hotline = mounts(services["asterisk"]), mounts(services["hotline"])
    defaults = Settings()
    needed = {
        # what the hotline reads or writes there, and whether it writes
        str(defaults.asterisk_etc_dir): True,  # the consultants' phones
        str(Path(defaults.asterisk_call_record).parents[1]): True,  # the call record; logs rotated, deleted
        str(PRODUCTION_FOLDER.parents[1]): True,  # recordings (monitor/recordings), deleted after retention
    }
    for path, writes in needed.items():
        assert path in asterisk, f"Asterisk has no volume at {path}"
        assert path in hotline, f"the hotline does not share Asterisk's {path}"
        assert hotline[path][0] == asterisk[path][0], f"{path}: not the same volume"
        assert hotline[path][1] or not writes, f"{path}: the hotline must be able to write it"
