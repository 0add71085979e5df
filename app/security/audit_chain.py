"""The audit log's hash chain: its canonical form, its verification and its head.

Each row of ``audit_log`` carries its place in the chain (``seq``, 1, 2, … without gaps), the
hash of the row before it (``prev_hash``, sixty-four zeros for the first) and its own::

    hash = sha256(prev_hash || canonical(row))      (UTF-8, lowercase hex)

The canonical form of a row is one line of JSON: the object of its columns ``action actor
after at before id object_id object_type role seq territory token_id``, keys in that (sorted)
order, no whitespace between members, strings escaped as JSON does (``"``, ``\\``, control
characters; other characters as they are), ``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``,
``before`` and ``after`` in PostgreSQL's text form of their jsonb value, missing values
``null``. The hashes are written by the database in the inserting transaction (trigger
``audit_log_chain``, migration 0020, serialised by an advisory lock); this module recomputes
them on its own to verify the chain, so that a change of the trigger's functions does not
go unnoticed either.

A rewrite of the whole history with recomputed hashes keeps a consistent chain; the head,
exported and published by an operator (``foncier audit head``), is what shows it later:
``verify`` given a published head checks that it is still in the chain at its place.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

GENESIS = "0" * 64

_COLUMNS = (
    *("action", "actor", "after", "at", "before", "id", "object_id", "object_type"),
    *("role", "seq", "territory", "token_id"),
)
_JSONB = {"before", "after"}


def canonical(row: Mapping[Any, Any]) -> str:
    """The canonical form of an audit row, ``before`` and ``after`` as PostgreSQL's text."""
    members = []
    for column in _COLUMNS:
        value = row[column]
        if value is None:
            encoded = "null"
        elif column in _JSONB:
            encoded = value  # already PostgreSQL's text of the jsonb
        elif column == "at":
            at = value.astimezone(datetime.UTC)
            encoded = json.dumps(at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        elif isinstance(value, int):
            encoded = str(value)
        else:
            encoded = json.dumps(value, ensure_ascii=False)
        members.append(f'"{column}":{encoded}')
    return "{" + ",".join(members) + "}"


def chain_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode()).hexdigest()


@dataclass(frozen=True)
class Head:
    """The last row of the chain, as an operator publishes it."""

    seq: int
    id: int | None
    hash: str
    at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "id": self.id, "hash": self.hash, "at": self.at}

    @classmethod
    def parse(cls, published: str) -> Head:
        """A head as ``foncier audit head`` prints it (JSON), or its hash alone."""
        published = published.strip()
        if published.startswith("{"):
            data = json.loads(published)
            return cls(int(data["seq"]), data.get("id"), data["hash"], data.get("at"))
        if len(published) != 64 or any(c not in "0123456789abcdef" for c in published):
            raise ValueError("a published head is the JSON of `foncier audit head` or a hash")
        return cls(seq=0, id=None, hash=published, at=None)


def head(conn: Connection) -> Head:
    """The chain's last row (seq 0 and the genesis hash when the log is empty)."""
    row = conn.execute(
        text("SELECT seq, id, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1")
    ).first()
    if row is None:
        return Head(seq=0, id=None, hash=GENESIS, at=None)
    at = row.at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return Head(seq=row.seq, id=row.id, hash=row.hash, at=at)


@dataclass(frozen=True)
class Verdict:
    intact: bool
    rows: int
    head: str
    message: str


def verify(conn: Connection, published: Head | None = None) -> Verdict:
    """Walk the chain in ``seq`` order, recomputing each hash; the first break is named.

    Per row, in this order: a gap in ``seq`` is a removal; a ``prev_hash`` other than the
    hash of the row before is a reordering (when the row it names is elsewhere in the log)
    or a removal or change of the row before; a hash other than the recomputed one is a
    change of the row itself. With ``published``, its hash must be found at its place.
    """
    rows = (
        conn.execution_options(stream_results=True, yield_per=2000)
        .execute(
            text(
                """SELECT seq, id, at, actor, role, territory, token_id, action, object_type,
                      object_id, before::text AS before, after::text AS after, prev_hash, hash
               FROM audit_log ORDER BY seq"""
            )
        )
        .mappings()
    )
    prev_hash, prev_id, count, published_found = GENESIS, None, 0, False
    for row in rows:
        where = f"row id {row['id']} (seq {row['seq']})"
        broken = None
        if row["seq"] > count + 1:
            gap = f"seq {count + 1}" + (f" to {row['seq'] - 1}" if row["seq"] > count + 2 else "")
            broken = f"{where}: the row(s) before it were removed ({gap} missing)"
        elif row["seq"] < count + 1:
            broken = f"{where} is out of place: seq {count + 1} expected"
        elif row["prev_hash"] != prev_hash:
            broken = _link_broken(conn, where, row["prev_hash"], prev_id)
        elif chain_hash(prev_hash, row) != row["hash"]:
            broken = f"{where} was changed: its content no longer matches its hash"
        elif published is not None and row["hash"] == published.hash:
            if published.seq not in (0, row["seq"]):
                broken = (
                    f"the published head (seq {published.seq}) is now at seq {row['seq']}:"
                    " rows before it were removed or added"
                )
            published_found = True
        if broken is not None:
            return Verdict(False, count, prev_hash, f"audit chain broken: {broken}")
        prev_hash, prev_id, count = row["hash"], row["id"], count + 1
    if published is not None and not published_found and published.hash != GENESIS:
        message = (
            f"audit chain broken: the published head {published.hash} (seq {published.seq})"
            " is not in the chain: history up to it was rewritten or truncated"
        )
        return Verdict(False, count, prev_hash, message)
    return Verdict(True, count, prev_hash, f"audit chain intact: {count} rows, head {prev_hash}")


def _link_broken(conn: Connection, where: str, recorded: str, prev_id: int | None) -> str:
    """Why a row's recorded predecessor is not the row before it."""
    elsewhere = conn.execute(
        text("SELECT id, seq FROM audit_log WHERE hash = :h LIMIT 1"), {"h": recorded}
    ).first()
    if elsewhere is not None:
        return (
            f"{where} is out of order: it was written after row id {elsewhere.id},"
            f" now at seq {elsewhere.seq}"
        )
    before = "the first row" if prev_id is None else f"row id {prev_id}"
    return (
        f"{where}: the row written before it is gone ({before} precedes it now):"
        " it was changed, removed or reordered"
    )
