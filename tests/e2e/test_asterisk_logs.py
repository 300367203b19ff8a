"""Asterisk's own logs under the retention: rotated by the running Asterisk, deleted when old."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from hotline.ami import AmiClient
from hotline.asterisk_logs import ROTATED, rotate_and_prune
from hotline.clock import utc_now
from launcher.cli import main
from tests.e2e.conftest import eventually, running_hotline


def rotated_security_logs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ROTATED.fullmatch(p.name) and p.name.startswith("security"))


async def test_logs_are_rotated_and_the_rotated_files_deleted_after_the_retention(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with running_hotline(database_url, tmp_path / "state", "logs") as hotline:
        folder = hotline.asterisk_path("log")
        security_log = folder / "security.log"

        # The services' AMI logins are security events: the log holds them.
        async def written() -> str | None:
            text = security_log.read_text() if security_log.exists() else ""
            return text if "SuccessfulAuth" in text else None

        before = await eventually(written, what="the AMI logins in security.log")
        assert rotated_security_logs(folder) == []

        # `hotline purge`, as an operator runs it daily, against this hotline (its state folder holds the
        # generated secrets). Retentions this long touch no other test's rows in the shared database.
        settings = hotline.settings
        for name, value in {
            "STATE_DIR": settings.state_dir,
            "DATABASE_URL": database_url,
            "AMI_PORT": settings.ami_port,
            "ASTERISK_INSTANCE": settings.asterisk_instance,
            "REDIS_PREFIX": settings.redis_prefix,
            **{f"{kind}_RETENTION_DAYS": 4000 for kind in ("CALL", "STEP", "CALLBACK", "RECORDING")},
        }.items():
            monkeypatch.setenv(f"HOTLINE_{name}", str(value))
        await asyncio.to_thread(main, ["purge"])
        assert "Asterisk's logs rotated; rotated logs deleted: 0" in capsys.readouterr().out
        (rotated,) = rotated_security_logs(folder)
        assert rotated.read_text().startswith(before)

        # Asterisk goes on writing, to a new security.log.
        ami = AmiClient(hotline.settings)
        await ami.start()
        try:
            await ami.wait_connected(timeout=30)
        finally:
            await ami.close()
        await eventually(written, what="a new AMI login in the new security.log")

        # A day and more later, the rotated file is past the retention and deleted; the current one stays.
        report = await rotate_and_prune(
            hotline.settings, folder, timedelta(days=1), now=utc_now() + timedelta(days=2)
        )
        assert report.rotated and report.deleted >= 1
        assert not rotated.exists()
        assert security_log.exists()
