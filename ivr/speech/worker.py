"""A recogniser process: the Vosk model loaded once, recognition streams fed on stdin, results on stdout.

    python -m ivr.speech.worker <model folder>

Recognition is CPU-bound; in the FastAGI process its threads would hold the GIL against the event loop and
slow every other caller's commands. So :class:`ivr.speech.recognizer.SpeechRecognition` runs a few of
these processes and talks to each over its pipes, one request at a time in order:

    request  = !IIBI  request id, stream id, operation, payload length; then the payload
    reply    = !IBI   request id, status (0 ok, 1 error), payload length; then the payload

Operations: ``OPEN`` (payload: the grammar as JSON) makes a recogniser for a stream; ``ACCEPT`` (payload:
8 kHz 16-bit mono audio) feeds it and replies one byte of flags (``ENDED``: the caller has finished
speaking, ``SPOKE``: something was heard); ``RESULT`` replies Vosk's final result (JSON); ``CLOSE`` drops
the stream. Requests with id 0 get no reply. The first reply (id 0) says the model is loaded, or why not.
The process ends when its stdin closes (the hotline ended or died). No audio is kept.
"""

from __future__ import annotations

import array
import contextlib
import json
import math
import os
import signal
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

REQUEST = struct.Struct("!IIBI")
REPLY = struct.Struct("!IBI")
OPEN, ACCEPT, RESULT, CLOSE = 1, 2, 3, 4
OK, ERROR = 0, 1
ENDED, SPOKE = 1, 2
NICE = 10  # added to the recogniser process's niceness
MAX_PAYLOAD = 1 << 20  # 65 s of audio in one request: far beyond what the listener hands over

SAMPLE_RATE = 8000
# End of speech: after the recogniser has heard something, this long below QUIET_RMS ends the answer, unless
# Vosk's own end-of-utterance comes first (it waits for longer silences).
END_SILENCE_MS = 400
QUIET_RMS = 300  # of 16-bit samples over 20 ms: a quiet telephone line is well below, speech well above
_FRAME_SAMPLES = SAMPLE_RATE // 50


class ModelFolderError(Exception):
    """Not a Vosk model folder, or a model that does not load."""


def import_vosk() -> Any:
    import vosk

    vosk.SetLogLevel(-1)
    return vosk


def load_model(path: Path) -> Any:
    """Load a Vosk model folder (blocking: a second or more)."""
    if not (path / "am").is_dir() and not (path / "conf").is_dir():
        raise ModelFolderError(f"{path} is not a Vosk model folder (no am/ or conf/ in it)")
    try:
        return import_vosk().Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception on a broken model
        raise ModelFolderError(f"{path}: the Vosk model does not load ({exc})") from exc


class Stream:
    """One answer being recognised, with end-of-speech detection on the line's loudness."""

    def __init__(self, model: Any, grammar: str) -> None:
        self.recognizer = import_vosk().KaldiRecognizer(model, SAMPLE_RATE, grammar)
        self.recognizer.SetWords(True)
        self.spoke = False  # Vosk heard something (a partial result)
        self.quiet_ms = 0  # of line silence since the last loud frame

    def accept(self, pcm: bytes) -> int:
        ended = bool(self.recognizer.AcceptWaveform(pcm))
        if not ended and not self.spoke:
            self.spoke = bool(json.loads(self.recognizer.PartialResult()).get("partial"))
        samples = array.array("h", pcm[: len(pcm) - len(pcm) % 2])
        for start in range(0, len(samples), _FRAME_SAMPLES):
            frame = samples[start : start + _FRAME_SAMPLES]
            loud = math.sqrt(sum(x * x for x in frame) / max(1, len(frame))) >= QUIET_RMS
            self.quiet_ms = 0 if loud else self.quiet_ms + 1000 * len(frame) // SAMPLE_RATE
        done = self.spoke and (ended or self.quiet_ms >= END_SILENCE_MS)
        return (ENDED if done else 0) | (SPOKE if self.spoke else 0)

    def result(self) -> str:
        return str(self.recognizer.FinalResult())


def _read_exactly(source: BinaryIO, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = source.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _reply(sink: BinaryIO, request_id: int, status: int, payload: bytes) -> None:
    sink.write(REPLY.pack(request_id, status, len(payload)) + payload)
    sink.flush()


def serve(model_path: Path, source: BinaryIO, sink: BinaryIO) -> int:
    try:
        model = load_model(model_path)
    except ModelFolderError as exc:
        _reply(sink, 0, ERROR, str(exc).encode())
        return 1
    _reply(sink, 0, OK, b"ready")
    streams: dict[int, Stream] = {}
    while True:
        header = _read_exactly(source, REQUEST.size)
        if header is None:
            return 0  # the hotline closed our stdin
        request_id, stream_id, operation, length = REQUEST.unpack(header)
        if length > MAX_PAYLOAD:
            print(f"speech worker: a request of {length} bytes, giving up", file=sys.stderr)
            return 2
        payload = _read_exactly(source, length)
        if payload is None:
            return 0
        status, answer = OK, b""
        try:
            if operation == OPEN:
                streams[stream_id] = Stream(model, payload.decode())
            elif operation == ACCEPT:
                answer = bytes([streams[stream_id].accept(payload)])
            elif operation == RESULT:
                answer = streams[stream_id].result().encode()
            elif operation == CLOSE:
                streams.pop(stream_id, None)
            else:
                status, answer = ERROR, f"unknown operation {operation}".encode()
        except KeyError:
            status, answer = ERROR, f"no stream {stream_id}".encode()
        except Exception as exc:  # a recogniser that fails fails its stream, not the others
            status, answer = ERROR, f"{type(exc).__name__}: {exc}".encode()
        if request_id:
            _reply(sink, request_id, status, answer)


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m ivr.speech.worker <model folder>", file=sys.stderr)
        return 2
    # Ctrl-C in the hotline's terminal is the hotline's to handle: this process ends when its stdin closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Recognition has slack (it runs at a few per cent of real time); the FastAGI process's commands have
    # none: on a busy core the scheduler lets them go first, and as a batch process a recogniser woken by
    # audio never preempts them.
    os.nice(NICE)
    with contextlib.suppress(AttributeError, OSError):  # SCHED_BATCH is Linux's
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    return serve(Path(sys.argv[1]), sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main())
