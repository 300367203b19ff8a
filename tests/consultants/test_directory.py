"""The consultants' directory and their states, on the session's database (SQLite or PostgreSQL).

What reaches Asterisk is tested end to end (tests/e2e/test_consultants.py); here, what the database keeps."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from hotline.consultants import ConsultantError, Consultants, ConsultantStates, parse_skill
from hotline.consultants.directory import REALM, sip_digest
from hotline.consultants.phones import render_phones
from hotline.db import ConsoleUser, ConsultantStateChange, create_engine, session_factory
from hotline.queues import Skill
from tests.data import QUEUES


@pytest.fixture
async def consultants(database_url: str) -> AsyncIterator[Consultants]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    directory = Consultants(sessions, QUEUES)
    async with sessions() as session, session.begin():
        for name in ("anna", "bogdan"):
            user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == name))
            if user is None:
                session.add(
                    ConsoleUser(
                        username=name, display_name=name.title(), password_hash="x", role="consultant"
                    )
                )
    yield directory
    async with sessions() as session, session.begin():
        from hotline.db import Consultant

        for row in await session.scalars(select(Consultant)):
            await session.delete(row)
    await engine.dispose()


async def test_a_consultant_gets_a_phone_whose_password_is_shown_once(consultants: Consultants) -> None:
    info, password = await consultants.add("anna", site="centre", skills=[parse_skill("jobs:uk:3")])
    assert re.fullmatch(r"c[0-9]{4,9}", info.sip_username)
    assert len(password) == 16
    credentials = [c for c in await consultants.phone_credentials() if c[0] == info.sip_username]
    assert credentials == [(info.sip_username, sip_digest(info.sip_username, password))]
    assert password not in repr(credentials)
    assert info.skills == (Skill("jobs", "uk", 3),) and info.state == "logged_out"
    again = await consultants.new_password("anna")
    assert again != password
    assert (info.sip_username, sip_digest(info.sip_username, again)) in await consultants.phone_credentials()
    assert REALM == "19524"


@pytest.mark.parametrize(
    ("skills", "site", "office", "message"),
    [
        (["jobs:xx:2"], "centre", None, "unknown language"),
        (["nope:pl:2"], "centre", None, "unknown topic"),
        (["jobs:pl:7"], "centre", None, "level"),
        (["jobs:pl:2", "jobs:pl:3"], "centre", None, "twice"),
        ([], "centre", None, "at least one skill"),
        (["jobs:pl"], "moon", None, "site"),
        (["jobs:pl"], "office", None, "office"),
        (["jobs:pl"], "office", "bad code;", "office"),
    ],
)
async def test_a_wrong_consultant_is_refused_with_the_reason(
    consultants: Consultants, skills: list[str], site: str, office: str | None, message: str
) -> None:
    with pytest.raises(ConsultantError, match=message):
        await consultants.add("anna", site=site, office_code=office, skills=[parse_skill(s) for s in skills])
    assert await consultants.get("anna") is None


async def test_only_a_console_user_can_become_a_consultant_and_only_once(consultants: Consultants) -> None:
    with pytest.raises(ConsultantError, match="no console user"):
        await consultants.add("nobody", site="centre", skills=[parse_skill("jobs:pl")])
    await consultants.add("anna", site="office", office_code="PUP-2061", skills=[parse_skill("jobs:pl")])
    with pytest.raises(ConsultantError, match="already"):
        await consultants.add("anna", site="centre", skills=[parse_skill("jobs:pl")])
    anna = await consultants.get("anna")
    assert anna is not None and (anna.site, anna.office_code) == ("office", "PUP-2061")


@pytest.mark.parametrize("text", ["jobs", "jobs:pl:x", ":pl", "a:b:c:d"])
def test_a_malformed_skill_is_refused(text: str) -> None:
    with pytest.raises(ConsultantError):
        parse_skill(text)


async def test_states_are_kept_with_their_history_without_asterisk(consultants: Consultants) -> None:
    states = ConsultantStates(consultants)  # no AMI: the database alone, Asterisk follows at its next login
    info, _ = await consultants.add("bogdan", site="ecam", skills=[parse_skill("ecam:pl:3")])
    with pytest.raises(ConsultantError, match="log in first"):
        await states.pause(info, "break", source="console")
    info = await states.log_in(info, source="phone")
    assert info.state == "available"
    with pytest.raises(ConsultantError, match="unknown pause reason"):
        await states.pause(info, "no_answer", source="console")  # the hotline's own reason
    with pytest.raises(ConsultantError, match="unknown pause reason"):
        await states.pause(info, "lunch'; DROP", source="console")
    info = await states.pause(info, "training", source="console")
    assert info.state == "paused:training"
    info = await states.available(info, source="phone")
    assert info.state == "available"
    assert (await states.rang_out(info.interface)) is not None
    assert (await consultants.get("bogdan")).state == "paused:no_answer"  # type: ignore[union-attr]
    assert await states.rang_out("PJSIP/c9999999") is None
    assert await states.rang_out("Local/garbage") is None
    disabled = await consultants.set_enabled("bogdan", False)
    assert not disabled.enabled and disabled.state == "logged_out"
    assert disabled.sip_username not in {name for name, _ in await consultants.phone_credentials()}
    async with consultants.sessions() as session:
        history = list(
            await session.execute(
                select(
                    ConsultantStateChange.state, ConsultantStateChange.reason, ConsultantStateChange.source
                )
                .where(ConsultantStateChange.consultant_id == info.id)
                .order_by(ConsultantStateChange.id)
            )
        )
    assert [tuple(row) for row in history] == [
        ("login", None, "phone"),
        ("pause", "training", "console"),
        ("available", None, "phone"),
        ("pause", "no_answer", "hotline"),
        ("logout", "disabled", "cli"),
    ]
    with pytest.raises(ConsultantError):
        await states.log_in(disabled, source="console")


def test_a_malformed_phone_cannot_break_the_pjsip_configuration() -> None:
    text = render_phones(
        [
            ("c1001", "0" * 32),
            ("c1002]\n[evil", "0" * 32),
            ("c1003", "x\ncontext = hotline-outbound"),
        ]
    )
    sections = re.findall(r"^\[([^\]]+)\]", text, re.M)
    assert sections == ["c1001", "c1001", "c1001"]
    assert "evil" not in text and "outbound" not in text
