"""Job and training offers for consultants: the search page (results as the consultant types), its JSON
twin, and one offer laid out to be read out on the phone.

The search page is the one page with a script (``static/offers.js``, from this console only): it widens the
console's Content-Security-Policy for this page alone by ``script-src 'self'`` and ``connect-src 'self'``.
Without the script the same form works with Enter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from agent_console import keys
from agent_console.middlewares import SECURITY_HEADERS
from agent_console.rendering import page, render
from agent_console.texts import Texts
from hotline.offers.models import JobOffer, TrainingOffer, parse_reference
from hotline.offers.places import load_places
from hotline.offers.search import (
    KINDS,
    MAX_QUERY_LENGTH,
    SCOPES,
    WORKING_TIMES,
    OfferHit,
    OfferQuery,
    search_backend,
)

log = logging.getLogger(__name__)

CSP_HEADER = "Content-Security-Policy"
SEARCH_PAGE_CSP = SECURITY_HEADERS[CSP_HEADER] + "; script-src 'self'; connect-src 'self'"
FRESHNESS = ("", "3", "7", "14", "30")
RESULTS = 20


class BadSearch(ValueError):
    """A search the console cannot run; ``text_key`` names the message for the consultant."""

    def __init__(self, text_key: str) -> None:
        super().__init__(text_key)
        self.text_key = text_key


@dataclass(frozen=True)
class SearchForm:
    q: str = ""
    kind: str = "job_offer"
    powiat: str = ""
    scope: str = "voivodeship"
    working_time: str = ""
    fresh: str = ""

    def as_query(self, *, typing: bool) -> OfferQuery:
        return OfferQuery(
            text=self.q,
            kind=self.kind,
            powiat=self.powiat or None,
            scope=self.scope,
            working_time=self.working_time or None,
            fresh_days=int(self.fresh) if self.fresh else None,
            typing=typing,
            limit=RESULTS,
        )

    @property
    def empty(self) -> bool:
        return not self.q.strip() and not self.powiat


def read_search_form(request: web.Request) -> SearchForm:
    """The query string as a form; anything out of its list or too long is a :class:`BadSearch`."""
    try:
        query = request.query
        values = {
            name: query.get(name, "") for name in ("q", "kind", "powiat", "scope", "working_time", "fresh")
        }
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadSearch("offers.bad_encoding") from exc
    if len(values["q"]) > MAX_QUERY_LENGTH:
        raise BadSearch("offers.too_long")
    if any(ord(ch) < 32 for ch in values["q"]):
        raise BadSearch("offers.bad_encoding")
    form = SearchForm(
        q=values["q"],
        kind=values["kind"] or "job_offer",
        powiat=values["powiat"],
        scope=values["scope"] or "voivodeship",
        working_time=values["working_time"],
        fresh=values["fresh"],
    )
    if form.kind not in KINDS or form.scope not in SCOPES or form.fresh not in FRESHNESS:
        raise BadSearch("offers.bad_filter")
    if form.working_time and form.working_time not in WORKING_TIMES:
        raise BadSearch("offers.bad_filter")
    if form.powiat and load_places().powiat(form.powiat) is None:
        raise BadSearch("offers.bad_place")
    return form


def _today(request: web.Request) -> date:
    settings = request.app[keys.SETTINGS]
    return request.app[keys.CLOCK]().astimezone(ZoneInfo(settings.timezone)).date()


def pay_text(texts: Texts, pay_min: int | None, pay_max: int | None, unit: str | None) -> str:
    if pay_min is None or unit is None:
        return texts("offers.no_value")
    amount = (
        _amount(pay_min) if not pay_max or pay_max == pay_min else f"{_amount(pay_min)}–{_amount(pay_max)}"
    )
    return texts(f"offers.pay_{unit}", amount=amount)


def _amount(value: int) -> str:
    return f"{value:,}".replace(",", "\u00a0")


def hit_view(texts: Texts, hit: OfferHit, url: str) -> dict[str, Any]:
    """What a result shows, in words: the same for the page and for the JSON endpoint."""
    details = hit.details
    if hit.kind == "job_offer":
        facts = [
            pay_text(texts, details["pay_min"], details["pay_max"], details["pay_unit"]),
            texts.label("working_times", details["working_time"]),
        ]
    else:
        cost = details["cost"]
        facts = [
            texts("offers.training_dates", starts=_day(texts, details["starts_on"]), hours=details["hours"]),
            texts("offers.cost_free") if cost == 0 else texts("offers.cost", amount=_amount(cost)),
        ]
    reasons = [texts.label("offer_fields", name) for name in hit.matched]
    return {
        "reference": hit.reference,
        "url": url,
        "title": hit.title,
        "code": hit.occupation_code or "",
        "employer": hit.employer,
        "place": texts("offers.place", town=hit.town, powiat=hit.powiat_name),
        "near": texts.label("offer_tiers", hit.place_tier) if hit.place_tier else "",
        "facts": facts,
        "why": texts("offers.why", fields=", ".join(reasons)) if reasons else "",
        "published": texts("offers.published", date=_day(texts, hit.published_on)),
    }


def _day(texts: Texts, day: date) -> str:
    return day.strftime(texts("units.date"))


async def _run(request: web.Request, form: SearchForm, *, typing: bool) -> list[dict[str, Any]]:
    texts = request.app[keys.TEXTS]
    backend = search_backend(request.app[keys.ENGINE])
    hits = await backend.search(form.as_query(typing=typing), _today(request))
    router = request.app.router
    return [hit_view(texts, hit, str(router["offer"].url_for(reference=hit.reference))) for hit in hits]


def _choices(texts: Texts) -> dict[str, Any]:
    return {
        "kinds": [(kind, texts.label("offer_kinds", kind)) for kind in KINDS],
        "scopes": [(scope, texts.label("offer_scopes", scope)) for scope in SCOPES],
        "working_times": [(value, texts.label("working_times", value)) for value in WORKING_TIMES],
        "freshness": [(value, texts.label("offer_freshness", value or "any")) for value in FRESHNESS],
        "places": load_places().by_voivodeship(),
    }


async def search_page(request: web.Request) -> web.StreamResponse:
    texts = request.app[keys.TEXTS]
    context: dict[str, Any] = {**_choices(texts), "error": None, "results": None, "offers_page": True}
    try:
        form = read_search_form(request)
    except BadSearch as exc:
        form = SearchForm()
        context["error"] = texts(exc.text_key)
    context["form"] = form
    if context["error"] is None and not form.empty:
        context["results"] = await _run(request, form, typing=False)
    response = render(request, "offers.html", context, status=400 if context["error"] else 200)
    response.headers[CSP_HEADER] = SEARCH_PAGE_CSP
    return response


async def search_json(request: web.Request) -> web.StreamResponse:
    """``GET /offers/search.json?q=…&kind=…&powiat=…&scope=…&working_time=…&fresh=…&typing=1``"""
    texts = request.app[keys.TEXTS]
    try:
        form = read_search_form(request)
    except BadSearch as exc:
        return web.json_response({"error": texts(exc.text_key), "results": []}, status=400)
    if form.empty:
        return web.json_response({"results": [], "summary": texts("offers.prompt")})
    results = await _run(request, form, typing=request.query.get("typing") == "1")
    summary = texts("offers.found", count=len(results)) if results else texts("offers.none")
    return web.json_response({"results": results, "summary": summary})


@page("offer.html")
async def offer_detail(request: web.Request) -> dict[str, Any]:
    parsed = parse_reference(request.match_info["reference"])
    if parsed is None or parsed[1] > 2**31 - 1:
        raise web.HTTPNotFound()
    kind, offer_id = parsed
    offer: JobOffer | TrainingOffer | None
    async with request.app[keys.DB]() as db:
        if kind == "job_offer":
            offer = await db.get(JobOffer, offer_id)
        else:
            offer = await db.get(TrainingOffer, offer_id)
    if offer is None:
        raise web.HTTPNotFound()
    texts = request.app[keys.TEXTS]
    places = load_places()
    powiat = places.powiat(offer.powiat)
    context: dict[str, Any] = {
        "offer": offer,
        "kind": kind,
        "powiat_name": powiat.name if powiat else offer.powiat,
        "voivodeship_name": places.voivodeships.get(offer.voivodeship, offer.voivodeship),
        "withdrawn": offer.withdrawn_at is not None or offer.valid_until < _today(request),
        "back_link": True,
    }
    if isinstance(offer, JobOffer):
        context["pay"] = pay_text(texts, offer.pay_min, offer.pay_max, offer.pay_unit)
    else:
        context["pay"] = (
            texts("offers.cost_free") if offer.cost == 0 else texts("offers.cost", amount=_amount(offer.cost))
        )
    return context
