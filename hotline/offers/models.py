"""Job offers and training offers as stored: what the feed said, the search terms, and whether still valid.

Both live on the project's one ``Base`` (so Alembic and the tests see one metadata). The search index is
kept by the database itself from the ``terms_*`` columns (see ``migrations/versions/0002_offers.py``): an FTS5
table with triggers on SQLite, a generated ``tsvector`` column with a GIN index on PostgreSQL. Offers are
never deleted: a call or a text message may refer to one; ``withdrawn_at`` says it is no longer on offer.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db.models import Base, UtcDateTime, utcnow

# Columns the search index is built from, in the index's column order.
TERM_COLUMNS = ("terms_occupation", "terms_employer", "terms_body", "terms_place", "terms_facets")


class _Searchable:
    source_id: Mapped[str] = mapped_column(String(64), unique=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    office_id: Mapped[str] = mapped_column(String(64), index=True)
    office_name: Mapped[str] = mapped_column(String(200))
    voivodeship: Mapped[str] = mapped_column(String(2))
    powiat: Mapped[str] = mapped_column(String(4), index=True)
    town: Mapped[str] = mapped_column(String(200))
    town_simc: Mapped[str | None] = mapped_column(String(7))
    published_on: Mapped[date] = mapped_column(Date, index=True)
    valid_until: Mapped[date] = mapped_column(Date)
    how_to_apply: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # missing (no longer in its office's feed) | expired (valid_until passed)
    withdrawn_reason: Mapped[str | None] = mapped_column(String(16))
    # Lemmas and folded forms, space-separated (hotline.offers.text.index_terms); the index reads these.
    terms_occupation: Mapped[str] = mapped_column(Text, default="")
    terms_employer: Mapped[str] = mapped_column(Text, default="")
    terms_body: Mapped[str] = mapped_column(Text, default="")
    terms_place: Mapped[str] = mapped_column(Text, default="")
    # Filter tokens: p<powiat> v<voivodeship> t<working time>, so filters narrow inside the text index.
    terms_facets: Mapped[str] = mapped_column(Text, default="")


class JobOffer(_Searchable, Base):
    """A job offer of a labour office (CBOP/ePraca fields)."""

    __tablename__ = "job_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occupation_code: Mapped[str] = mapped_column(String(6), index=True)
    occupation_name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    employer_name: Mapped[str] = mapped_column(String(200))
    employer_nip: Mapped[str | None] = mapped_column(String(10))
    # full_time | part_time | flexible
    working_time: Mapped[str] = mapped_column(String(16))
    # one_shift | two_shifts | three_shifts | continuous | weekends | nights
    shifts: Mapped[str | None] = mapped_column(String(16))
    # employment | mandate | specific_task | temporary | b2b | internship
    contract: Mapped[str] = mapped_column(String(16))
    pay_min: Mapped[int] = mapped_column(Integer)
    pay_max: Mapped[int | None] = mapped_column(Integer)
    # month | hour (gross PLN)
    pay_unit: Mapped[str] = mapped_column(String(8))
    vacancies: Mapped[int] = mapped_column(Integer)
    duties: Mapped[str] = mapped_column(Text, default="")
    requirements: Mapped[str] = mapped_column(Text, default="")

    @property
    def reference(self) -> str:
        return offer_reference("job_offer", self.id)


class TrainingOffer(_Searchable, Base):
    """A training course that a labour office offers or funds."""

    __tablename__ = "training_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(200))
    occupation_code: Mapped[str | None] = mapped_column(String(6))
    occupation_name: Mapped[str | None] = mapped_column(String(200))
    organiser: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[int] = mapped_column(Integer)
    # PLN; 0 when the labour office pays
    cost: Mapped[int] = mapped_column(Integer)
    eligibility: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")

    @property
    def reference(self) -> str:
        return offer_reference("training", self.id)


REFERENCE_PREFIX = {"job_offer": "OF", "training": "SZ"}


def offer_reference(kind: str, offer_id: int) -> str:
    """The short reference a caller notes down: "OF-1234" (job offer), "SZ-56" (training)."""
    return f"{REFERENCE_PREFIX[kind]}-{offer_id}"


def parse_reference(text: str) -> tuple[str, int] | None:
    """``(kind, id)`` of a reference as typed ("of-1234", "OF 1234", "SZ-56"); None when it is not one."""
    cleaned = text.strip().upper().replace(" ", "-")
    prefix, _, number = cleaned.partition("-")
    kinds = {value: key for key, value in REFERENCE_PREFIX.items()}
    if prefix not in kinds or not number.isdigit() or not 0 < len(number) <= 9:
        return None
    return kinds[prefix], int(number)
