"""The IVR's prompts as WAVs for Asterisk, built from the catalogue (:mod:`ivr.prompts.catalog`).

:func:`build_prompts` turns the texts into one 8 kHz 16-bit mono
WAV per prompt and language (``out_dir/<lang>/<id>.wav``, what Asterisk plays without transcoding) plus
``out_dir/manifest.json``. A studio recording at ``recordings/<lang>/<id>.wav`` beside the text file takes
precedence over synthesis (``espeak-ng`` then ``sox``). Builds are reproducible and incremental: a prompt is
rebuilt only when its text, its recording or the synthesizer changed.

Run as ``hotline prompts`` or ``python -m ivr.prompts [--out DIR]``; needs the Debian packages ``espeak-ng``
and ``sox``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from hotline.settings import Settings
from ivr.prompts.catalog import PromptCatalog, PromptError, text_sha256

log = logging.getLogger(__name__)


MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # bytes: 16-bit signed PCM
CHANNELS = 1

# espeak-ng voice per prompt language (the language codes of prompts.yaml).
ESPEAK_VOICES: Mapping[str, str] = MappingProxyType({"pl": "pl", "uk": "uk", "en": "en"})
# espeak-ng's speed (-s) per language. Its "words per minute" are English words: at -s 150 our Polish texts
# came out at 101 words a minute (Polish words are long) and Ukrainian at 133. Each voice has the setting
# that gives a natural rate as measured on the built WAVs (recordings/README.md): Polish about 170 words a
# minute, Ukrainian at the same 6-6.5 syllables a second, English about 165 words a minute.
ESPEAK_SPEEDS: Mapping[str, int] = MappingProxyType({"pl": 250, "uk": 190, "en": 170})
ESPEAK_DEFAULT_SPEED = 175  # espeak-ng's own default, for a language not listed above
# What changes every synthesized file when it changes: part of the manifest, a change rebuilds everything.
SYNTHESIZER = (
    "espeak-ng -s "
    + ",".join(f"{lang}={speed}" for lang, speed in ESPEAK_SPEEDS.items())
    + f" | sox -R -r {SAMPLE_RATE} -c {CHANNELS} -b 16 -e signed"
)

Source = Literal["recorded", "synthesized"]
# (text, language, output WAV path): writes an 8 kHz 16-bit mono WAV there.
Synthesizer = Callable[[str, str, Path], None]


# --- The manifest -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestEntry:
    id: str
    lang: str
    text: str
    file: str  # relative to the output folder: "<lang>/<id>.wav"
    source: Source
    sha256: str  # of the (normalized) text
    recording_sha256: str | None = None  # of the studio recording, for recorded prompts

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "lang": self.lang,
            "text": self.text,
            "file": self.file,
            "source": self.source,
            "sha256": self.sha256,
        }
        if self.recording_sha256 is not None:
            data["recording_sha256"] = self.recording_sha256
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ManifestEntry:
        source = data["source"]
        if source not in ("recorded", "synthesized"):
            raise ValueError(f"unknown source {source!r}")
        return cls(
            id=str(data["id"]),
            lang=str(data["lang"]),
            text=str(data["text"]),
            file=str(data["file"]),
            source=source,
            sha256=str(data["sha256"]),
            recording_sha256=data.get("recording_sha256"),
        )


@dataclass(frozen=True)
class Manifest:
    """What :func:`build_prompts` produced, as stored in ``manifest.json``."""

    entries: tuple[ManifestEntry, ...]
    synthesizer: str = SYNTHESIZER
    _index: Mapping[tuple[str, str], ManifestEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {(e.id, e.lang): e for e in self.entries})

    def get(self, prompt_id: str, lang: str) -> ManifestEntry | None:
        return self._index.get((prompt_id, lang))

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def to_json(self) -> str:
        data = {
            "version": MANIFEST_VERSION,
            "synthesizer": self.synthesizer,
            "prompts": [entry.to_json() for entry in self.entries],
        }
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("version") != MANIFEST_VERSION:
            raise ValueError(f"unsupported manifest version {data.get('version')!r}")
        return cls(
            entries=tuple(ManifestEntry.from_json(item) for item in data["prompts"]),
            synthesizer=str(data.get("synthesizer", "")),
        )

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        """The manifest at ``path``, or None when there is none or it cannot be read (then all is rebuilt)."""
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable prompt manifest %s: %s", path, exc)
            return None

    def write(self, path: Path) -> None:
        _atomic_write_bytes(path, self.to_json().encode("utf-8"))


# --- Building the WAVs --------------------------------------------------------------------------------------


def espeak_sox(text: str, language: str, out: Path) -> None:
    """Synthesize ``text`` with espeak-ng and convert it with sox to an 8 kHz 16-bit mono WAV at ``out``."""
    voice = ESPEAK_VOICES.get(language, language)
    speed = ESPEAK_SPEEDS.get(language, ESPEAK_DEFAULT_SPEED)
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptError(f"{tool} is not installed (Debian: apt-get install -y espeak-ng sox)")
    with tempfile.TemporaryDirectory(prefix="prompt-", dir=out.parent) as scratch:
        raw = Path(scratch) / "espeak.wav"
        _run(["espeak-ng", "-v", voice, "-s", str(speed), "-b", "1", "--stdin", "-w", str(raw)], text)
        _sox_to_telephone(raw, out)


def _run(command: Sequence[str], stdin: str | None = None) -> None:
    result = subprocess.run(
        command, input=None if stdin is None else stdin.encode("utf-8"), capture_output=True, check=False
    )
    if result.returncode != 0:
        error = result.stderr.decode("utf-8", "replace").strip()
        raise PromptError(f"{command[0]} failed ({result.returncode}): {error}")


def is_telephone_wav(path: Path) -> bool:
    """True when ``path`` is already what Asterisk plays as-is: 8 kHz, 16-bit, mono PCM WAV."""
    try:
        with wave.open(str(path), "rb") as wav:
            return (
                wav.getframerate() == SAMPLE_RATE
                and wav.getsampwidth() == SAMPLE_WIDTH
                and wav.getnchannels() == CHANNELS
                and wav.getcomptype() == "NONE"
            )
    except (wave.Error, EOFError, OSError):
        return False


def convert_recording(recording: Path, out: Path) -> None:
    """Copy a studio recording to ``out``, converting it with sox unless it already is 8 kHz 16-bit mono."""
    if is_telephone_wav(recording):
        shutil.copyfile(recording, out)
        return
    if shutil.which("sox") is None:
        raise PromptError(f"{recording} needs converting to 8 kHz mono, but sox is not installed")
    _sox_to_telephone(recording, out)


def _sox_to_telephone(source: Path, out: Path) -> None:
    # -R: repeatable mode, so the dither sox adds when resampling is the same on every run.
    _run(
        [
            "sox",
            "-R",
            str(source),
            "-r",
            str(SAMPLE_RATE),
            "-c",
            str(CHANNELS),
            "-b",
            "16",
            "-e",
            "signed",
            str(out),
        ]
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass(frozen=True)
class _Job:
    entry: ManifestEntry
    recording: Path | None


def build_prompts(
    source: Path,
    out_dir: Path,
    *,
    recordings_dir: Path | None = None,
    synthesize: Synthesizer = espeak_sox,
    synthesizer_id: str = SYNTHESIZER,
    jobs: int | None = None,
) -> Manifest:
    """Build ``out_dir/<lang>/<id>.wav`` for every prompt of ``source`` and write ``out_dir/manifest.json``.

    ``recordings_dir`` (default: the folder of ``source``) holds studio recordings as ``<lang>/<id>.wav``;
    those are copied (converted to 8 kHz mono if needed) instead of synthesized. A prompt whose text hash,
    recording and ``synthesizer_id`` match the existing manifest and whose WAV exists is left alone. WAVs of
    prompts no longer in ``source`` are removed. ``jobs`` parallel workers (default: one per CPU).
    """
    catalog = PromptCatalog.load(source)
    recordings_dir = source.parent if recordings_dir is None else recordings_dir
    manifest_path = out_dir / MANIFEST_NAME
    previous = Manifest.read(manifest_path)
    if previous is not None and previous.synthesizer != synthesizer_id:
        log.info(
            "synthesizer changed (%r → %r): rebuilding every synthesized prompt",
            previous.synthesizer,
            synthesizer_id,
        )

    entries: list[ManifestEntry] = []
    todo: list[_Job] = []
    for prompt_id in catalog.ids:
        for lang in catalog.languages:
            text = catalog.text(prompt_id, lang)
            recording = recordings_dir / lang / f"{prompt_id}.wav"
            recorded = recording.is_file()
            entry = ManifestEntry(
                id=prompt_id,
                lang=lang,
                text=text,
                file=f"{lang}/{prompt_id}.wav",
                source="recorded" if recorded else "synthesized",
                sha256=text_sha256(text),
                recording_sha256=_file_sha256(recording) if recorded else None,
            )
            entries.append(entry)
            old = previous.get(prompt_id, lang) if previous is not None else None
            up_to_date = (
                old == entry
                and (out_dir / entry.file).is_file()
                and (recorded or previous is None or previous.synthesizer == synthesizer_id)
            )
            if not up_to_date:
                todo.append(_Job(entry, recording if recorded else None))

    for lang in catalog.languages:
        (out_dir / lang).mkdir(parents=True, exist_ok=True)

    def build(job: _Job) -> None:
        final = out_dir / job.entry.file
        tmp = final.with_name(f".{final.stem}.tmp.wav")
        try:
            if job.recording is not None:
                convert_recording(job.recording, tmp)
            else:
                synthesize(job.entry.text, job.entry.lang, tmp)
            if not is_telephone_wav(tmp):
                raise PromptError(f"{job.entry.file}: the result is not an 8 kHz 16-bit mono WAV")
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        log.debug("built %s (%s)", job.entry.file, job.entry.source)

    started = time.monotonic()
    if todo:
        workers = max(1, min(len(todo), jobs or os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # list() re-raises the first failure of any worker.
            list(pool.map(build, todo))

    manifest = Manifest(entries=tuple(entries), synthesizer=synthesizer_id)
    if previous is not None:
        wanted = {entry.file for entry in entries}
        for old in previous:
            if old.file not in wanted:
                stale = out_dir / old.file
                if stale.resolve().is_relative_to(out_dir.resolve()):
                    stale.unlink(missing_ok=True)
    manifest.write(manifest_path)
    recorded_count = sum(1 for job in todo if job.recording is not None)
    log.info(
        "prompts: %d files in %s (%d synthesized, %d recorded, %d unchanged) in %.1f s",
        len(entries),
        out_dir,
        len(todo) - recorded_count,
        recorded_count,
        len(entries) - len(todo),
        time.monotonic() - started,
    )
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ivr.prompts", description="Build the 19524 IVR prompts as 8 kHz WAVs for Asterisk."
    )
    defaults = Settings()
    parser.add_argument(
        "--source", type=Path, default=defaults.prompts_file, help="prompt texts (prompts.yaml)"
    )
    parser.add_argument("--out", type=Path, default=defaults.prompts_dir, help="output folder (var/prompts)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel workers (default: one per CPU)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        build_prompts(args.source, args.out, jobs=args.jobs)
    except PromptError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
