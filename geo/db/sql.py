"""SQL assembled safely by construction: identifiers through psycopg's quoting, values bound.

A query is text with named parameters (``:name`` for SQLAlchemy's ``text()``, ``%(name)s``
for ``exec_driver_sql``); what cannot be a parameter — a table, column or schema name, a
piece of SQL chosen by the code — is a ``Sql`` value, made only by ``ident`` (a quoted
name), ``literal`` (a quoted constant, for DDL, which takes no parameter) or ``trusted``
(a fragment written in the code). ``compose`` fills a template with ``Sql`` pieces only:
a plain string (which may come from a file or a request) is refused, not pasted.
"""

from __future__ import annotations

import string
from collections.abc import Iterable

from psycopg import sql as pg


class Sql(str):
    """A piece of SQL that is safe to paste: a quoted identifier or literal, or a fragment
    written in the code. Plain strings are not ``Sql``."""

    __slots__ = ()

    def join(self, pieces: Iterable[str]) -> Sql:
        """The pieces, each ``Sql``, separated by this one."""
        return Sql(str.join(self, [_checked(p) for p in pieces]))


def trusted(fragment: str) -> Sql:
    """A fragment written in the code (a constant, never built from input) as ``Sql``."""
    return Sql(fragment)


def ident(*names: str) -> Sql:
    """A (schema-qualified, when several) name quoted as PostgreSQL reads it: a quote or a
    semicolon in it stays part of the name."""
    return Sql(pg.Identifier(*names).as_string(None))


def idents(names: Iterable[str]) -> Sql:
    """Column names quoted, separated by commas."""
    return Sql(", ").join(ident(n) for n in names)


def literal(value: object) -> Sql:
    """A constant quoted as a literal, where PostgreSQL takes no parameter (DDL)."""
    return Sql(pg.Literal(value).as_string(None))


def compose(template: str, **pieces: Sql) -> Sql:
    """``template`` (a constant of the code) with its ``{name}`` fields filled by ``Sql``
    pieces; a field given a plain string raises TypeError."""
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    missing = fields - pieces.keys()
    if missing:
        raise KeyError(f"no piece for {', '.join(sorted(missing))}")
    return Sql(template.format_map({k: _checked(v) for k, v in pieces.items()}))


def _checked(piece: str) -> Sql:
    if not isinstance(piece, Sql):
        raise TypeError(f"not a Sql piece (quote it with ident or literal): {piece!r}")
    return piece
