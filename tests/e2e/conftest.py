"""The real hotline for end-to-end tests: Asterisk 22 from the sandbox, our FastAGI server, the AMI listener.

One instance per test session, on free ports of its own (so a running `make run` is never disturbed), with
the session's database (SQLite or PostgreSQL, see tests/conftest.py). A module that needs a hotline of its
own builds it from the parts here: `running_hotline` (or `trunked_hotline`, with a carrier at the other end
of an outbound trunk), a shortened queues file (`queues_file`), and consultants with real phones
(`consultant_desks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import update

from devtools.carrier import Carrier, CarrierAccount
from devtools.phones import SoftPhone, phone_ports
from devtools.sandbox import instance_paths
from devtools.testcall import TestCallResult
from hotline.ami import AgentConnect, AmiEvent, UserEvent, actions
from hotline.callbacks import ACTIVE
from hotline.consultants import ConsultantInfo, parse_skill
from hotline.db import CallbackRequest, ConsoleUser, create_engine, session_factory
from hotline.settings import PROJECT_ROOT, free_ports, load_settings
from launcher.runner import Hotline

T = TypeVar("T")

WARSAW = ZoneInfo("Europe/Warsaw")
# A working Wednesday, 10:00 in Warsaw: consultants are in.
WORKING_DAY = datetime(2026, 12, 2, 10, 0, tzinfo=WARSAW)
# The hotline's caller ID on the carrier's trunk (`trunked_hotline`).
CALLER_ID = "+48221234567"


class TestClock:
    """The IVR's clock in end-to-end tests: pinned, and moved by tests that need other hours."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@contextlib.asynccontextmanager
async def running_hotline(
    database_url: str, state_dir: Path, name: str, **settings: Any
) -> AsyncIterator[Hotline]:
    """A hotline of its own (Asterisk instance ``<name>-<pid>`` on free ports, no console) on the working day;
    at the end, every call it took must have gone through without Asterisk logging an error. ``settings``
    may name ports too (a test that must know them before the start)."""
    if os.geteuid() != 0:
        pytest.skip("the Asterisk sandbox runs under chroot, which needs root")
    rtp_start = random.randrange(20000, 29000, 2)
    values: dict[str, Any] = {
        **free_ports(),
        "rtp_start": rtp_start,
        "rtp_end": rtp_start + 200,
        "redis_prefix": f"hotline-{name}-{os.getpid()}",
        **settings,
    }
    hotline = Hotline(
        load_settings(
            state_dir=state_dir,
            database_url=database_url,
            asterisk_instance=f"{name}-{os.getpid()}",
            **values,
        ),
        with_console=False,
        tools_ami=True,
        clock=TestClock(WORKING_DAY),
    )
    try:
        await cancel_callbacks_of_other_tests(database_url)
        await hotline.start()
        yield hotline
        assert hotline.asterisk is not None
        assert hotline.asterisk.error_lines() == []
    finally:
        if hotline.live is not None:
            await hotline.live.clear()
        await hotline.stop()
        folder: Path = instance_paths(hotline.settings).host()
        if folder.is_dir() and not os.environ.get("HOTLINE_KEEP_TEST_INSTANCE"):
            shutil.rmtree(folder, ignore_errors=True)


async def cancel_callbacks_of_other_tests(database_url: str) -> None:
    """The session's database is shared: call-back requests other tests left active (the IVR's after-hours
    ones, a unit test's) would be called back by this hotline's dialler, at its consultants. Each hotline
    under test starts with none."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(
                update(CallbackRequest)
                .where(CallbackRequest.status.in_(ACTIVE))
                .values(status="cancelled", pending_key=None)
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def hotline(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hotline]:
    async with running_hotline(database_url, tmp_path_factory.mktemp("state"), "test") as hotline:
        yield hotline


@pytest.fixture
def clock(hotline: Hotline) -> Iterator[TestClock]:
    """The running hotline's clock; put back to the working day after each test."""
    assert isinstance(hotline.clock, TestClock)
    yield hotline.clock
    hotline.clock.at = WORKING_DAY


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds (a deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or check}")
        await asyncio.sleep(0.05)


def queues_file(folder: Path, **changes: Any) -> Path:
    """The shipped queues file with ``changes`` (shorter seconds, other routing), written in ``folder``."""
    data = yaml.safe_load((PROJECT_ROOT / "hotline" / "queues.yaml").read_text())
    data.update(changes)
    path = folder / "queues.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def write_trunks_file(folder: Path, carrier: Carrier, account: CarrierAccount) -> Path:
    """A trunks file whose one trunk goes to ``carrier``: by address both ways, registered as ``account``."""
    path = folder / "trunks.yaml"
    data = {
        "version": 1,
        "trunks": {
            "carrier": {
                "match": ["127.0.0.2"],
                "host": carrier.sip_address,
                "caller_id": CALLER_ID,
                "codecs": ["alaw", "ulaw"],
                "registration": {"username": account.username},
            }
        },
    }
    path.write_text(yaml.safe_dump(data))
    return path


@contextlib.asynccontextmanager
async def trunked_hotline(
    database_url: str, folder: Path, name: str, **settings: Any
) -> AsyncIterator[tuple[Hotline, Carrier]]:
    """A hotline of its own (`running_hotline`, state in ``folder``/state) whose one trunk goes to a carrier
    of its own (devtools/carrier.py, on 127.0.0.2), started first; at the end, the carrier too must have
    logged no error."""
    hotline_ports = free_ports()
    carrier_ports = free_ports()
    account = CarrierAccount("hotline19524", secrets.token_urlsafe(16))
    carrier = Carrier(
        load_settings().asterisk_root,
        sip_port=carrier_ports["sip_port"],
        ami_port=carrier_ports["ami_port"],
        rtp_start=random.randrange(30000, 39000, 2),
        hotline_sip_port=hotline_ports["sip_port"],
        account=account,
    )
    trunks_file = write_trunks_file(folder, carrier, account)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTLINE_TRUNK_CARRIER_PASSWORD", account.password)
        try:
            await carrier.start()
            async with running_hotline(
                database_url, folder / "state", name, trunks_file=trunks_file, **hotline_ports, **settings
            ) as hotline:
                yield hotline, carrier
            assert carrier.asterisk.error_lines() == []
        finally:
            await carrier.stop()


@dataclass
class Desk:
    """A consultant with their phone."""

    info: ConsultantInfo
    phone: SoftPhone


@contextlib.asynccontextmanager
async def consultant_desks(
    hotline: Hotline,
    folder: Path,
    consultants: Mapping[str, Sequence[str]],
    *,
    prefix: str = "",
    display_name: str = "{name}",
    sites: Mapping[str, str] | None = None,
    sound: Path | None = None,
    logged_in: bool = False,
) -> AsyncIterator[dict[str, Desk]]:
    """The consultants named in ``consultants`` (name: skills such as "jobs:pl:3"), each with a console user
    ``prefix + name`` shown as ``display_name`` (``{name}`` filled in), a site (``sites``, else the centre),
    and a real phone (baresip, sending ``sound`` when given) registered to the hotline; logged in to their
    queues when ``logged_in``. At the end the phones stop and the consultants are disabled: the session's
    database is shared, and another hotline would put a logged-in consultant back in its queues."""
    assert hotline.consultants is not None and hotline.phones is not None
    assert hotline.consultant_states is not None
    async with hotline.consultants.sessions() as session, session.begin():
        for name in consultants:
            session.add(
                ConsoleUser(
                    username=prefix + name,
                    display_name=display_name.format(name=name),
                    password_hash="x",
                    role="consultant",
                )
            )
    desks: dict[str, Desk] = {}
    passwords = {}
    for name, skills in consultants.items():
        info, passwords[name] = await hotline.consultants.add(
            prefix + name, site=(sites or {}).get(name, "centre"), skills=[parse_skill(s) for s in skills]
        )
        sip, ctrl, rtp = phone_ports()
        phone = SoftPhone(
            folder / name,
            user=info.sip_username,
            password=passwords[name],
            asterisk=(hotline.settings.sip_host, hotline.settings.sip_port),
            sip_port=sip,
            ctrl_port=ctrl,
            rtp_ports=rtp,
            sound=sound,
        )
        desks[name] = Desk(info, phone)
    assert await hotline.phones.sync()
    started: list[SoftPhone] = []
    try:
        for desk in desks.values():
            await desk.phone.start()
            started.append(desk.phone)
        for desk in desks.values():
            await desk.phone.registered()
        if logged_in:
            for desk in desks.values():
                desk.info = await hotline.consultant_states.log_in(desk.info, source="console")
        yield desks
    finally:
        for phone in started:
            await phone.stop()
        for desk in desks.values():
            await hotline.consultants.set_enabled(desk.info.username, False)


async def current(hotline: Hotline, desk: Desk) -> ConsultantInfo:
    """The desk's consultant as stored now (logged in or not, paused, ...)."""
    assert hotline.consultants is not None
    info = await hotline.consultants.get(desk.info.username)
    assert info is not None
    return info


async def log_in(hotline: Hotline, *desks: Desk) -> None:
    assert hotline.consultant_states is not None
    for desk in desks:
        await hotline.consultant_states.log_in(await current(hotline, desk), source="console")


async def log_out(hotline: Hotline, *desks: Desk) -> None:
    assert hotline.consultant_states is not None
    for desk in desks:
        await hotline.consultant_states.log_out(await current(hotline, desk), source="console")


@contextlib.asynccontextmanager
async def ami_events(hotline: Hotline) -> AsyncIterator[asyncio.Queue[AmiEvent]]:
    """The hotline's AMI events from now on, while the block runs."""
    assert hotline.ami is not None
    queue = hotline.ami.subscribe()
    try:
        yield queue
    finally:
        hotline.ami.unsubscribe(queue)


async def next_connect(
    events: asyncio.Queue[AmiEvent],
    desk: Desk | None = None,
    *,
    uniqueid: str | None = None,
    timeout: float = 40,
) -> AgentConnect:
    """The next time a consultant answers a queue's call: ``desk``'s phone, the caller's channel ``uniqueid``,
    when given."""

    async def check() -> AgentConnect | None:
        while not events.empty():
            event = events.get_nowait()
            if (
                isinstance(event, AgentConnect)
                and (desk is None or event.interface == desk.info.interface)
                and (uniqueid is None or event.uniqueid == uniqueid)
            ):
                return event
        return None

    what = f"{desk.info.username if desk else 'a consultant'} answers {uniqueid or 'a call'}"
    return await eventually(check, timeout=timeout, what=what)


async def hang_up(hotline: Hotline, call: TestCallResult | str) -> None:
    """Hang up a call (a test call, or a channel by name or unique id), if it is still there."""
    assert hotline.ami is not None
    channel = call if isinstance(call, str) else call.uniqueid
    assert channel
    with contextlib.suppress(Exception):
        await hotline.ami.send(actions.Hangup(channel=channel))


async def received_by_carrier(carrier: Carrier, events: asyncio.Queue[AmiEvent], number: str) -> UserEvent:
    """The carrier's report of a call it received for ``number`` (events: `carrier.subscribe()`)."""

    async def received() -> UserEvent | None:
        while not events.empty():
            event = Carrier.received(events.get_nowait())
            if event is not None and event.fields.get("Number") == number:
                return event
        return None

    return await eventually(received, timeout=60, what=f"the carrier receives a call to {number}")
