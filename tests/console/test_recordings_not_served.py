"""Recordings of calls are never served by the console: no route leads to them, its only folder of files is
its own static one (stylesheets and scripts), and no path walks out of it. (Supervisors will play them
through a view of their own, audited, in the console's issue.)"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from agent_console.app import create_app
from agent_console.routes import STATIC_DIR
from hotline.recordings import PRODUCTION_FOLDER, RECORDINGS_SUBDIR
from hotline.settings import Settings
from tests.console.conftest import Account, Client, signed_in


def test_no_route_leads_to_the_recordings(console_settings: Settings) -> None:
    app = create_app(console_settings)
    folders = []
    for resource in app.router.resources():
        info = resource.get_info()
        if "directory" in info:
            folders.append(Path(info["directory"]).resolve())
        url = resource.canonical.lower()
        assert "record" not in url and "monitor" not in url and "spool" not in url, url
        assert not isinstance(resource, web.StaticResource) or Path(info["directory"]) == STATIC_DIR
    assert folders == [STATIC_DIR.resolve()]
    # The static folder holds the console's own files, never a sound.
    assert {path.suffix for path in STATIC_DIR.rglob("*") if path.is_file()} <= {".css", ".js"}
    assert not STATIC_DIR.resolve().is_relative_to(console_settings.asterisk_root)
    assert not PRODUCTION_FOLDER.is_relative_to(STATIC_DIR.resolve())


async def test_no_url_reaches_a_recording(client: Client, supervisor: Account) -> None:
    await signed_in(client, supervisor)
    for path in (
        f"/{RECORDINGS_SUBDIR}/2026/12/02/1796029199.2.WAV",
        f"/static/../../var/spool/asterisk/monitor/{RECORDINGS_SUBDIR}/1.2.WAV",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2fapp.py",
        "/monitor/1.2.WAV",
    ):
        response = await client.get(path, allow_redirects=False)
        assert response.status in (400, 403, 404), (path, response.status)
        assert response.content_type != "audio/x-wav"
