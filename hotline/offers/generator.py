"""``hotline offers generate N``: a realistic feed of any size for tests, demos and the benchmark.

Real KZiS occupations and codes, real powiats and towns with their TERYT codes and labour offices (from the
package's data files), plausible pay and dates. The same seed and day give the same feed, so a generated file
imported twice is the same feed twice.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import IO, Any

from hotline.clock import utc_now
from hotline.datafiles import load_yaml
from hotline.offers.places import Powiat, load_places

OCCUPATIONS_FILE = Path(__file__).resolve().parent / "data" / "occupations.yaml"
# Gross minimum hourly rate (PLN), the floor of hourly pay.
MIN_HOURLY = 32
STREETS = [
    "Kościuszki",
    "Mickiewicza",
    "Przemysłowa",
    "Polna",
    "Długa",
    "Kolejowa",
    "Słoneczna",
    "Lipowa",
    "Ogrodowa",
    "Szkolna",
    "Warszawska",
    "Krakowska",
    "Fabryczna",
    "Leśna",
    "Piłsudskiego",
]


@dataclass(frozen=True)
class Occupation:
    code: str
    name: str
    pay: tuple[int, int]
    duties: tuple[str, ...]
    requirements: tuple[str, ...]
    employers: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    occupations: tuple[Occupation, ...]
    surnames: tuple[str, ...]
    brands: tuple[str, ...]
    training_topics: tuple[dict[str, Any], ...]
    organisers: tuple[str, ...]
    eligibility: tuple[str, ...]


@cache
def load_catalogue(path: Path = OCCUPATIONS_FILE) -> Catalogue:
    raw = load_yaml(path)
    occupations = []
    for sector in raw["sectors"].values():
        for item in sector["occupations"]:
            code = str(item["code"])
            if len(code) != 6 or not code.isdigit():
                raise ValueError(f"{path}: KZiS code {code!r} must be six digits")
            occupations.append(
                Occupation(
                    code=code,
                    name=item["name"],
                    pay=(int(item["pay"][0]), int(item["pay"][1])),
                    duties=tuple(item["duties"]),
                    requirements=tuple(item["requirements"]),
                    employers=tuple(sector["employers"]),
                )
            )
    trainings = raw["trainings"]
    return Catalogue(
        occupations=tuple(occupations),
        surnames=tuple(raw["surnames"]),
        brands=tuple(raw["brands"]),
        training_topics=tuple(trainings["topics"]),
        organisers=tuple(trainings["organisers"]),
        eligibility=tuple(trainings["eligibility"]),
    )


def office_id(powiat: Powiat) -> str:
    """Offices that serve two powiats (Poznań and poznański) have one id: that of the first one listed."""
    for candidate in load_places().powiats.values():
        if candidate.office == powiat.office:
            return f"UP{candidate.teryt}"
    return f"UP{powiat.teryt}"


class FeedGenerator:
    def __init__(self, seed: int = 19524, today: date | None = None) -> None:
        self.random = random.Random(seed)
        self.today = today or utc_now().date()
        self.catalogue = load_catalogue()
        places = load_places()
        self.powiats = list(places.powiats.values())
        # Cities with powiat rights have more offers than the powiats around them.
        self.weights = [4 if p.name.startswith("m.") else 1 for p in self.powiats]
        self.offices = {p.teryt: office_id(p) for p in self.powiats}

    def _fill(self, template: str, town: str) -> str:
        r = self.random
        return template.format(
            surname=r.choice(self.catalogue.surnames),
            brand=r.choice(self.catalogue.brands),
            n=r.randint(1, 30),
            town=town,
        )

    def _place(self) -> tuple[Powiat, dict[str, str]]:
        powiat = self.random.choices(self.powiats, self.weights)[0]
        town = self.random.choice(powiat.towns)
        return powiat, {"voivodeship": powiat.voivodeship, "powiat": powiat.teryt, "town": town}

    def _dates(self) -> tuple[date, date]:
        r = self.random
        published = self.today - timedelta(days=r.randint(0, 60))
        if r.random() < 0.03:
            valid_until = self.today - timedelta(days=r.randint(1, 10))
            return min(published, valid_until), valid_until
        return published, self.today + timedelta(days=r.randint(1, 60))

    def _how_to_apply(self, powiat: Powiat, town: str) -> str:
        r = self.random
        choice = r.randrange(4)
        if choice == 0:
            return f"Osobiście: ul. {r.choice(STREETS)} {r.randint(1, 120)}, {town}, w dni robocze 8:00–15:00"
        if choice == 1:
            return f"CV na adres e-mail: rekrutacja{r.randint(1, 999)}@example.pl, w temacie numer oferty"
        if choice == 2:
            number = f"{r.randint(500, 799)} {r.randint(100, 999)} {r.randint(100, 999)}"
            return f"Telefonicznie: {number}, pon.–pt. 9:00–16:00"
        return f"Przez urząd: zgłoś się do pośrednika pracy – {powiat.office}"

    def job_offer(self, number: int) -> dict[str, Any]:
        r = self.random
        occupation = r.choice(self.catalogue.occupations)
        powiat, place = self._place()
        published, valid_until = self._dates()
        low, high = occupation.pay
        pay_min = r.randrange(low, (low + high) // 2 + 1, 100) if high > low else low
        pay_min = max(pay_min, low)
        pay: dict[str, Any]
        if r.random() < 0.15:
            hourly = max(MIN_HOURLY, round(pay_min / 168))
            pay = {"min": hourly, "max": hourly + r.randint(0, 10), "unit": "hour"}
        else:
            pay = {"min": pay_min, "unit": "month"}
            if r.random() < 0.8:
                pay["max"] = pay_min + r.randrange(0, high - low + 100, 100)
        working_time = r.choices(["full_time", "part_time", "flexible"], [75, 15, 10])[0]
        record: dict[str, Any] = {
            "type": "job_offer",
            "id": f"{self.offices[powiat.teryt]}/{published.year}/OF{number:07d}",
            "office": {"id": self.offices[powiat.teryt], "name": powiat.office},
            "occupation": {"code": occupation.code, "name": occupation.name},
            "employer": {"name": self._fill(r.choice(occupation.employers), place["town"])},
            "place": place,
            "working_time": working_time,
            "contract": r.choices(
                ["employment", "mandate", "temporary", "b2b", "internship"], [70, 13, 10, 4, 3]
            )[0],
            "pay": pay,
            "vacancies": r.choices([1, 2, 3, 5, 10], [60, 20, 10, 7, 3])[0],
            "duties": r.choice(occupation.duties).capitalize() + ".",
            "requirements": ", ".join(
                r.sample(occupation.requirements, k=min(2, len(occupation.requirements)))
            ).capitalize()
            + ".",
            "published": published.isoformat(),
            "valid_until": valid_until.isoformat(),
            "how_to_apply": self._how_to_apply(powiat, place["town"]),
        }
        if r.random() < 0.5:
            record["shifts"] = r.choice(["one_shift", "two_shifts", "three_shifts", "weekends", "nights"])
        return record

    def training(self, number: int) -> dict[str, Any]:
        r = self.random
        topic = r.choice(self.catalogue.training_topics)
        powiat, place = self._place()
        published, valid_until = self._dates()
        starts = valid_until + timedelta(days=r.randint(3, 21))
        hours = r.randint(*topic["hours"])
        occupation = next((o for o in self.catalogue.occupations if o.code == topic["code"]), None)
        trade = occupation.name.lower() if occupation else topic["topic"]
        record: dict[str, Any] = {
            "type": "training",
            "id": f"{self.offices[powiat.teryt]}/{published.year}/SZ{number:07d}",
            "office": {"id": self.offices[powiat.teryt], "name": powiat.office},
            "topic": topic["topic"],
            "organiser": self._fill(r.choice(self.catalogue.organisers), place["town"]),
            "place": place,
            "starts": starts.isoformat(),
            "ends": (starts + timedelta(days=max(1, hours // 6))).isoformat(),
            "hours": hours,
            "cost": 0 if r.random() < 0.7 else r.randrange(topic["cost"][0], topic["cost"][1] + 1, 100),
            "eligibility": r.choice(self.catalogue.eligibility).capitalize() + ".",
            "description": f"Szkolenie przygotowuje do pracy w zawodzie: {trade}.",
            "published": published.isoformat(),
            "valid_until": valid_until.isoformat(),
            "how_to_apply": f"Wniosek o skierowanie na szkolenie w urzędzie: {powiat.office}",
        }
        if occupation:
            record["occupation"] = {"code": occupation.code, "name": occupation.name}
        return record

    def records(self, offers: int, trainings: int | None = None) -> Iterator[dict[str, Any]]:
        """``offers`` job offers, then ``trainings`` training offers (default: one for every fifty)."""
        for number in range(1, offers + 1):
            yield self.job_offer(number)
        for number in range(1, (offers // 50 if trainings is None else trainings) + 1):
            yield self.training(number)


def write_feed(
    out: IO[str], offers: int, *, trainings: int | None = None, seed: int = 19524, today: date | None = None
) -> int:
    """Write ``offers`` job offers (and training offers) as JSON Lines; returns the lines written."""
    written = 0
    for record in FeedGenerator(seed, today).records(offers, trainings):
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        written += 1
    return written
