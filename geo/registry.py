"""Registries kept as data: one TOML file per entry (rule sets, scoring profiles).

An entry's id is its file name; it names SQL columns and URLs, so it is held to
``ID_PATTERN`` before anything else reads it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from geo.errors import Invalid

# Lower-case letters, digits and hyphens: safe in a URL, and in an SQL identifier once the
# hyphens become underscores.
ID_PATTERN = r"^[a-z0-9-]+$"


def check_id(entry_id: str, error: type[Invalid] = Invalid) -> str:
    """``entry_id`` if it matches ID_PATTERN, else ``error``."""
    if not re.fullmatch(ID_PATTERN, entry_id):
        raise error(f"{entry_id!r}: an id is lower-case letters, digits and hyphens")
    return entry_id


def read_registry(directory: Path, error: type[Invalid] = Invalid) -> dict[str, dict[str, Any]]:
    """Every ``*.toml`` of ``directory``, parsed, by id (the file name, which the file's
    ``id`` must repeat); ``error`` on the first file that cannot be read."""
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise error(f"{path.name}: not valid TOML ({exc})") from exc
        if data.get("id") != path.stem:
            raise error(f"{path.name}: id must be the file name ({path.stem})")
        entries[check_id(path.stem, error)] = data
    return entries


def read_catalogue(
    path: Path, table: str, error: type[Invalid] = Invalid
) -> dict[str, dict[str, Any]]:
    """The ``[[table]]`` entries of one TOML file, by id (each held to ID_PATTERN, each id
    once); ``error`` when the file cannot be read."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise error(f"{Path(path).name}: cannot be read ({exc})") from exc
    entries: dict[str, dict[str, Any]] = {}
    for entry in data.get(table, []):
        entry_id = check_id(str(entry.get("id", "")), error)
        if entry_id in entries:
            raise error(f"{Path(path).name}: {entry_id} is listed twice")
        entries[entry_id] = entry
    return entries
