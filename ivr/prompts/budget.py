"""How long a caller listens: every prompt and every menu node against the budgets of the prompt file.

Lengths are measured on the built WAVs (frames / rate), so a studio recording counts as it is, in every
language. :func:`listenings` says what a caller hears in one go at each node of the menu (the greeting, a
menu on arrival, a topic's information); :func:`check_budgets` measures those and every single prompt
against :class:`~ivr.prompts.catalog.PromptBudgets`. ``hotline prompts`` prints the report's table and
fails, naming the offenders, when anything is over budget.
"""

from __future__ import annotations

import wave
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hotline.queues import Queues
from hotline.settings import Settings
from ivr.menu import LanguageNode, Menu, MenuNode, load_menu
from ivr.prompts.catalog import PromptBudgets, PromptCatalog, PromptError

BudgetKind = Literal["prompt", "greeting", "menu", "information", "consultant"]
# (prompt id, language) -> seconds
Lengths = Mapping[tuple[str, str], float]


@dataclass(frozen=True)
class Listening:
    """What a caller hears in one go at a node: prompts in order, checked against one budget.

    Each part is a prompt id and its language, or None for the language of the call; ``languages`` are
    those the listening is heard in (None: every language of the catalogue).
    """

    node: str
    what: str
    budget: Literal["greeting", "menu", "information"]
    parts: tuple[tuple[str, str | None], ...]
    languages: tuple[str, ...] | None = None


def listenings(menu: Menu) -> tuple[Listening, ...]:
    """What callers hear at each language and menu node of ``menu``, in file order.

    A language node: its intro (the greeting) in every language, as it is said again in a newly chosen
    one; and on arrival, the intro in the default language and one choice in each offered language. A
    menu node: its intro and prompts, as on arrival; a node with a topic is a topic's information; a node
    with a spoken question: its intro and the question, as on arrival.
    """
    found: list[Listening] = []
    for node in menu.nodes.values():
        if isinstance(node, LanguageNode):
            intro = tuple((prompt_id, None) for prompt_id in node.intro)
            if intro:
                found.append(Listening(node.id, "greeting", "greeting", intro))
            choices = tuple(
                (prompt_id, language) for language in node.languages.values() for prompt_id in node.prompts
            )
            found.append(
                Listening(
                    node.id,
                    "greeting and language choices",
                    "menu",
                    tuple((prompt_id, node.default) for prompt_id in node.intro) + choices,
                    languages=(node.default,),
                )
            )
        elif isinstance(node, MenuNode):
            parts = tuple((prompt_id, None) for prompt_id in (*node.intro, *node.prompts))
            if node.speech is not None and node.speech.question is not None:
                question = tuple((prompt_id, None) for prompt_id in (*node.intro, node.speech.question))
                found.append(Listening(node.id, "spoken question", "menu", question))
            if node.topic is None:
                found.append(Listening(node.id, "menu", "menu", parts))
            else:
                found.append(Listening(node.id, "information", "information", parts))
    return tuple(found)


@dataclass(frozen=True)
class Overrun:
    """One thing over budget, in one language. ``seconds`` is None when a required prompt never starts."""

    language: str
    item: str  # "node 'jobs': information", "prompt 'greeting'"
    kind: BudgetKind
    seconds: float | None
    budget_s: float

    def __str__(self) -> str:
        if self.seconds is None:
            return f"{self.language}: {self.item}: never (no prompt of budgets.consultant_prompts)"
        if self.kind == "consultant":
            return f"{self.language}: {self.item} {self.seconds:.1f} s, later than {self.budget_s:g} s"
        return f"{self.language}: {self.item}: {self.seconds:.1f} s, over the budget of {self.budget_s:g} s"


@dataclass(frozen=True)
class Row:
    """A line of the report: one item's seconds per language (None: not heard in that language)."""

    item: str
    kind: BudgetKind
    budget_s: float | None
    seconds: Mapping[str, float | None]

    def over(self, language: str) -> bool:
        value = self.seconds.get(language)
        return self.budget_s is not None and value is not None and value > self.budget_s


@dataclass(frozen=True)
class BudgetReport:
    languages: tuple[str, ...]
    rows: tuple[Row, ...]
    overruns: tuple[Overrun, ...]

    @property
    def ok(self) -> bool:
        return not self.overruns

    def table(self) -> str:
        """The rows as a plain-text table, one column per language; ``!`` marks a value over budget."""
        width = max(len(row.item) for row in self.rows) if self.rows else 10
        lines = [
            "Seconds a caller listens, measured on the built WAVs (! over budget)",
            f"{'':{width}}  {'budget':>6}" + "".join(f"  {lang:>6}" for lang in self.languages),
        ]
        for row in self.rows:
            budget = "-" if row.budget_s is None else f"{row.budget_s:g}"
            cells = []
            for lang in self.languages:
                value = row.seconds.get(lang)
                if value is None:
                    cells.append(f"  {'-':>6}")
                else:
                    mark = "!" if row.over(lang) else " "
                    cells.append(f"  {value:5.1f}{mark}")
            lines.append(f"{row.item:{width}}  {budget:>6}" + "".join(cells))
        for lang in self.languages:
            longest = max(
                (row for row in self.rows if row.kind == "prompt" and row.seconds.get(lang) is not None),
                key=lambda row: row.seconds[lang] or 0.0,
                default=None,
            )
            if longest is not None:
                lines.append(f"longest prompt in {lang}: {longest.item} ({longest.seconds[lang]:.1f} s)")
        return "\n".join(lines)


def check_budgets(catalog: PromptCatalog, lengths: Lengths, heard: Iterable[Listening]) -> BudgetReport:
    """Every listening and every prompt of ``catalog``, in every language, against ``catalog.budgets``.

    With no budgets in the catalogue the report only has the lengths. ``lengths`` must have every prompt
    in every language (:func:`measure_lengths`).
    """
    budgets = catalog.budgets
    rows: list[Row] = []
    overruns: list[Overrun] = []

    def add(item: str, kind: BudgetKind, budget_s: float | None, seconds: dict[str, float | None]) -> None:
        row = Row(item, kind, budget_s, seconds)
        rows.append(row)
        if budget_s is not None:
            overruns.extend(
                Overrun(lang, item, kind, seconds[lang], budget_s)
                for lang in catalog.languages
                if row.over(lang)
            )

    for listening in heard:
        item = f"node {listening.node!r}: {listening.what}"
        in_languages = listening.languages or catalog.languages
        totals: dict[str, float | None] = {}
        for lang in catalog.languages:
            totals[lang] = (
                sum(lengths[(prompt_id, part_lang or lang)] for prompt_id, part_lang in listening.parts)
                if lang in in_languages
                else None
            )
        add(item, listening.budget, _limit(budgets, listening.budget), totals)
        if listening.budget == "information" and budgets is not None:
            starts = {lang: _consultant_start(listening, lang, lengths, budgets) for lang in in_languages}
            hint = f"node {listening.node!r}: press 0 starts at"
            add(hint, "consultant", budgets.consultant_within_s, dict(starts))
            overruns.extend(
                Overrun(lang, hint, "consultant", None, budgets.consultant_within_s)
                for lang, start in starts.items()
                if start is None
            )
    for prompt_id in catalog.ids:
        seconds: dict[str, float | None] = {lang: lengths[(prompt_id, lang)] for lang in catalog.languages}
        add(f"prompt {prompt_id!r}", "prompt", None if budgets is None else budgets.prompt_s, seconds)
    return BudgetReport(catalog.languages, tuple(rows), tuple(overruns))


def _limit(budgets: PromptBudgets | None, kind: Literal["greeting", "menu", "information"]) -> float | None:
    if budgets is None:
        return None
    if kind == "greeting":
        return budgets.greeting_s
    return budgets.menu_s if kind == "menu" else budgets.information_s


def _consultant_start(
    listening: Listening, language: str, lengths: Lengths, budgets: PromptBudgets
) -> float | None:
    """When the first consultant prompt starts, in seconds from the node's first prompt (None: never)."""
    elapsed = 0.0
    for prompt_id, part_lang in listening.parts:
        if prompt_id in budgets.consultant_prompts:
            return elapsed
        elapsed += lengths[(prompt_id, part_lang or language)]
    return None


def wav_seconds(path: Path) -> float:
    """The length of a WAV: frames / rate."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError, OSError) as exc:
        raise PromptError(f"{path}: cannot measure this WAV ({exc}); build the prompts first") from exc


def measure_lengths(prompts_dir: Path, catalog: PromptCatalog) -> dict[tuple[str, str], float]:
    """Seconds of every built prompt of ``catalog``: ``prompts_dir/<lang>/<id>.wav``."""
    return {
        (prompt_id, lang): wav_seconds(prompts_dir / lang / f"{prompt_id}.wav")
        for prompt_id in catalog.ids
        for lang in catalog.languages
    }


def check_built_prompts(settings: Settings) -> BudgetReport:
    """The report for the prompts built in ``settings.prompts_dir`` and the menu of ``settings.menu_file``."""
    catalog = PromptCatalog.load(settings.prompts_file)
    menu = load_menu(settings.menu_file, catalog, Queues.load(settings.queues_file).names)
    return check_budgets(catalog, measure_lengths(settings.prompts_dir, catalog), listenings(menu))
