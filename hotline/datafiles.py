"""YAML data files (menu, hours, queues, prompt texts): parsed safely, a key written twice is an error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


class DuplicateKeyError(ValueError):
    """A YAML mapping defines the same key twice (PyYAML would silently keep the last one)."""

    def __init__(self, file: Path, path: tuple[str, ...], key: str, line: int) -> None:
        self.file = file
        self.path = path
        self.key = key
        self.line = line
        where = ".".join(path) or "the top level"
        super().__init__(f"{file}: line {line}: key {key!r} appears twice in {where}")


def load_yaml(path: Path) -> Any:
    """Parse a YAML data file safely, refusing duplicate mapping keys.

    Raises :class:`DuplicateKeyError` (naming the keys leading to the mapping) or :class:`yaml.YAMLError`.
    """
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        _check_duplicate_keys(path, root, ())
    return yaml.safe_load(text)


def _check_duplicate_keys(file: Path, node: yaml.Node, path: tuple[str, ...]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            if key in seen:
                raise DuplicateKeyError(file, path, key, key_node.start_mark.line + 1)
            seen.add(key)
            _check_duplicate_keys(file, value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_duplicate_keys(file, item, (*path, str(index)))


def read_data_file(path: Path, error: Callable[[str], Exception]) -> Any:
    """:func:`load_yaml`, with every way the file can fail (missing, unreadable, a key twice, not YAML)
    raised as ``error(message)``: the data file's own error class, naming the file."""
    try:
        return load_yaml(path)
    except (OSError, DuplicateKeyError) as exc:
        raise error(str(exc)) from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
