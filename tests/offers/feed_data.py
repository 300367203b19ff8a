"""Hand-written feed records for the offer tests: real occupations, powiats and Polish wording."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

# The tests' "today": every offer below is valid long after it.
TODAY = date(2026, 12, 1)

OFFICES = {
    "2061": "Powiatowy Urząd Pracy w Białymstoku",
    "2002": "Powiatowy Urząd Pracy w Białymstoku",
    "1418": "Powiatowy Urząd Pracy w Piasecznie",
    "1465": "Urząd Pracy m.st. Warszawy",
    "1261": "Grodzki Urząd Pracy w Krakowie",
    "2261": "Powiatowy Urząd Pracy w Gdańsku",
    "2469": "Powiatowy Urząd Pracy w Katowicach",
    "3064": "Powiatowy Urząd Pracy w Poznaniu",
    "1061": "Powiatowy Urząd Pracy w Łodzi",
    "0264": "Powiatowy Urząd Pracy we Wrocławiu",
}


def job_offer(
    source_id: str,
    office_id: str,
    *,
    code: str,
    occupation: str,
    employer: str,
    powiat: str,
    town: str,
    working_time: str = "full_time",
    pay: tuple[int, int | None] = (5000, 6500),
    duties: str = "",
    requirements: str = "",
    published: str = "2026-11-20",
    valid_until: str = "2030-12-31",
    **extra: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "job_offer",
        "id": source_id,
        "office": {"id": office_id, "name": OFFICES.get(powiat, "Powiatowy Urząd Pracy")},
        "occupation": {"code": code, "name": occupation},
        "employer": {"name": employer},
        "place": {"voivodeship": powiat[:2], "powiat": powiat, "town": town},
        "working_time": working_time,
        "contract": "employment",
        "pay": {"min": pay[0], "unit": "month", **({"max": pay[1]} if pay[1] else {})},
        "vacancies": 1,
        "duties": duties,
        "requirements": requirements,
        "published": published,
        "valid_until": valid_until,
        "how_to_apply": "CV na adres e-mail: praca@example.pl",
    }
    record.update(extra)
    return record


def line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def unique_office() -> str:
    return f"UPTEST{uuid.uuid4().hex[:10]}"


def search_offers(office: str) -> dict[str, dict[str, Any]]:
    """The search tests' offers by letter; each letter is the source id's suffix."""
    prefix = f"{office}/S"
    specs: dict[str, dict[str, Any]] = {
        "A": dict(
            code="721204",
            occupation="Spawacz",
            employer="Konstrukcje Stalowe Polbud Sp. z o.o.",
            powiat="2061",
            town="Białystok",
            duties="Spawanie konstrukcji stalowych metodą MAG.",
            published="2026-11-10",
        ),
        "B": dict(
            code="833202",
            occupation="Kierowca samochodu ciężarowego",
            employer="Transmet Sp. z o.o.",
            powiat="1418",
            town="Piaseczno",
            duties="Przewóz towarów na terenie kraju.",
            requirements="Prawo jazdy kat. C.",
        ),
        "C": dict(
            code="222101",
            occupation="Pielęgniarka",
            employer="Szpital Specjalistyczny im. Ludwika Rydygiera",
            powiat="1261",
            town="Kraków",
            working_time="part_time",
            duties="Opieka nad pacjentami oddziału chirurgii.",
        ),
        "D": dict(
            code="531107",
            occupation="Opiekun w żłobku lub klubie dziecięcym",
            employer="Żłobek Miejski nr 5",
            powiat="2261",
            town="Gdańsk",
            duties="Opieka nad dziećmi do lat trzech.",
        ),
        "E": dict(
            code="432103",
            occupation="Magazynier",
            employer="Centrum Dystrybucyjne Omega",
            powiat="1465",
            town="Warszawa",
            duties="Załadunek towaru wózkiem widłowym, kompletowanie zamówień.",
        ),
        "F": dict(
            code="512001",
            occupation="Kucharz",
            employer="Restauracja Pod Lipami",
            powiat="2061",
            town="Białystok",
            duties="Przygotowywanie posiłków kuchni polskiej.",
        ),
        "G": dict(
            code="721204",
            occupation="Spawacz",
            employer="Zakład Ślusarsko-Spawalniczy Nowak",
            powiat="2002",
            town="Wasilków",
            published="2026-11-25",
        ),
        "H": dict(
            code="721204",
            occupation="Spawacz",
            employer="Huta Stali Katowice S.A.",
            powiat="2469",
            town="Katowice",
            published="2026-11-28",
        ),
        "I": dict(
            code="331301",
            occupation="Księgowy",
            employer="Biuro Rachunkowe Kowalska",
            powiat="3064",
            town="Poznań",
            duties="Prowadzenie ksiąg rachunkowych.",
        ),
        "J": dict(
            code="522301",
            occupation="Sprzedawca",
            employer="Sklep Spożywczy Wiśniewski",
            powiat="1061",
            town="Łódź",
            duties="Obsługa klientów.",
        ),
        "K": dict(
            code="833101",
            occupation="Kierowca autobusu",
            employer="Przedsiębiorstwo Komunikacji Miejskiej",
            powiat="2469",
            town="Katowice",
            requirements="Prawo jazdy kat. D.",
        ),
        "L": dict(
            code="341202",
            occupation="Opiekun osoby starszej",
            employer="Dom Pomocy Społecznej Złota Jesień",
            powiat="0264",
            town="Wrocław",
            duties="Pomoc seniorom w codziennych czynnościach.",
        ),
    }
    return {letter: job_offer(f"{prefix}{letter}", office, **spec) for letter, spec in specs.items()}
