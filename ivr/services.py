"""What the AGI routes need, built (and validated) once when the FastAGI service starts."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.call_recorder import CallRecorder
from hotline.calls import Sessions
from hotline.clock import Clock, utc_now
from hotline.consultants import ConsultantStates
from hotline.live import LiveState
from hotline.queues import Queues
from hotline.settings import Settings
from hotline.transfers import CaseCards, TransferTargets
from ivr.callback_dialer import CallbackDialer
from ivr.hours import OpeningHours, load_hours
from ivr.menu import Menu, load_menu
from ivr.prompts import PromptCatalog
from ivr.speech.listen import SpeechListener


@dataclass(frozen=True)
class IvrServices:
    settings: Settings
    sessions: Sessions
    # Writes what happens to calls, in batches (shared with the AMI listener in one process).
    recorder: CallRecorder
    menu: Menu
    hours: OpeningHours
    # Where Asterisk finds the prompts: ivr.prompts.prompt_file(sounds_dir, language, prompt_id).
    sounds_dir: str
    now: Clock = utc_now
    # The live picture of calls (Redis): the IVR reports each caller's progress through the menu.
    live: LiveState | None = None
    # Hears spoken answers; None: speech is off (no model configured), the menu is keys only.
    speech: SpeechListener | None = None
    # Consultants' states (the feature codes of their phones); None where no consultant can log in.
    consultant_states: ConsultantStates | None = None
    # Transfers' case cards and targets (the route `transfer`); None where no consultant transfers.
    case_cards: CaseCards | None = None
    transfer_targets: TransferTargets | None = None
    # The consultants' queues (topics, languages); the call-back dialer (None: no call-backs from a queue).
    queues: Queues | None = None
    callback_dialer: CallbackDialer | None = None

    @property
    def speech_languages(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.settings.speech_languages.split(",") if s.strip())


def load_ivr_services(
    settings: Settings,
    sessions: Sessions,
    recorder: CallRecorder,
    sounds_dir: str,
    *,
    queues: Queues,
    now: Clock = utc_now,
    live: LiveState | None = None,
    speech: SpeechListener | None = None,
    consultant_states: ConsultantStates | None = None,
    case_cards: CaseCards | None = None,
    transfer_targets: TransferTargets | None = None,
    callback_dialer: CallbackDialer | None = None,
) -> IvrServices:
    """Load the menu and hours; a broken file stops the service here with a message naming the node."""
    catalog = PromptCatalog.load(settings.prompts_file)
    menu = load_menu(settings.menu_file, catalog, queues.names)
    hours = load_hours(settings.hours_file)
    return IvrServices(
        settings=settings,
        sessions=sessions,
        recorder=recorder,
        menu=menu,
        hours=hours,
        sounds_dir=sounds_dir,
        now=now,
        live=live,
        speech=speech,
        consultant_states=consultant_states,
        case_cards=case_cards,
        transfer_targets=transfer_targets,
        queues=queues,
        callback_dialer=callback_dialer,
    )
