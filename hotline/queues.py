"""The consultants' queues, as data (``hotline/queues.yaml``, settings ``queues_file``).

One owner of queue names: the IVR's menu is validated against :class:`Queues`, and the Asterisk
configuration (``queues.conf`` and the dialplan's ``[hotline-queues]``) is rendered from it by
:mod:`hotline.asterisk_config`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hotline.datafiles import read_data_file

QUEUES_VERSION = 1
# A queue name is used as an Asterisk section and extension: lower case letters, digits and underscores only.
QUEUE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class QueuesError(Exception):
    """The queues file is invalid."""


@dataclass(frozen=True)
class Queue:
    name: str
    description: str


@dataclass(frozen=True)
class Queues:
    default: str
    by_name: Mapping[str, Queue]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __iter__(self) -> Iterator[Queue]:
        return iter(self.by_name.values())

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.by_name)

    @classmethod
    def from_data(cls, data: Any, *, origin: str = "queues") -> Queues:
        if not isinstance(data, dict) or set(data) != {"version", "default", "queues"}:
            raise QueuesError(f"{origin}: expected a mapping with exactly 'version', 'default' and 'queues'")
        if data["version"] != QUEUES_VERSION:
            raise QueuesError(f"{origin}: version {data['version']!r} is not {QUEUES_VERSION}")
        raw = data["queues"]
        if not isinstance(raw, dict) or not raw:
            raise QueuesError(f"{origin}: 'queues' must be a non-empty mapping of queue names")
        queues: dict[str, Queue] = {}
        for name, body in raw.items():
            if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name):
                raise QueuesError(
                    f"{origin}: queue name {name!r} must be lower case letters, digits and underscores"
                )
            if not isinstance(body, dict) or set(body) - {"description"}:
                raise QueuesError(f"{origin}: queue {name!r} may have only a 'description'")
            description = body.get("description", "")
            if not isinstance(description, str):
                raise QueuesError(f"{origin}: queue {name!r}: 'description' must be text")
            queues[name] = Queue(name, description)
        default = data["default"]
        if default not in queues:
            raise QueuesError(f"{origin}: the default queue {default!r} is not one of the queues")
        return cls(default=default, by_name=MappingProxyType(queues))

    @classmethod
    def load(cls, path: Path) -> Queues:
        return cls.from_data(read_data_file(path, QueuesError), origin=str(path))
