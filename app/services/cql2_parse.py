"""CQL2 filters (OGC API - Features, Part 3) parsed: either encoding, text or JSON, to one
CQL2-JSON tree, bounded before it costs anything.

The encodings are parsed by ``cql2`` (PyPI: the Python binding of developmentseed's
cql2-rs, a Rust parser and validator of both encodings). Hostile input is bounded: the
filter's length and its nesting depth (app.services.cql2 bounds the IN lists). The Rust
parser recurses once per nesting level, so it runs in a thread of its own with a large
stack: a filter nested a few thousand levels deep (within the length limit) would overflow
a request thread's stack and kill the process.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cql2

from geo.errors import Invalid

MAX_FILTER_CHARS = 8192
MAX_DEPTH = 32

TEXT = "cql2-text"
JSON = "cql2-json"
# "cql-text" is the name of the text encoding in the drafts of Part 3, and the only one
# GDAL's OAPIF driver (3.6 to 3.12 at least) pushes a -where down with: read as cql2-text.
LEGACY_TEXT = "cql-text"
LANGUAGES = (TEXT, JSON, LEGACY_TEXT)


class FilterError(Invalid):
    """A filter that cannot be used: its message says why, for the client."""


# The Rust parser's own thread: 256 MB of stack (reserved, touched only as deep as a parse
# goes); a filter of MAX_FILTER_CHARS characters needs at most a few tens of MB.
def _big_stack_executor() -> ThreadPoolExecutor:
    previous = threading.stack_size(256 * 1024 * 1024)
    try:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cql2")
        executor.submit(lambda: None).result()  # the thread is created now, with that stack
    finally:
        threading.stack_size(previous)
    return executor


_PARSER: ThreadPoolExecutor | None = None
_PARSER_LOCK = threading.Lock()


def _parse(text: str, lang: str) -> Any:
    parse = cql2.parse_json if lang == JSON else cql2.parse_text
    try:
        return parse(text).to_json()
    except (cql2.ParseError, cql2.ValidationError):
        raise
    except Exception as exc:
        # Besides its own errors, the parser raises a bare Exception for a geometry it
        # cannot build (POINT EMPTY: "a position must contain two or more elements"):
        # whatever it raises is about the text it was given.
        raise ValueError(str(exc)) from None


def parse(text: str, lang: str = TEXT) -> dict[str, Any] | bool:
    """The CQL2-JSON tree of a filter in either encoding."""
    global _PARSER
    if lang not in LANGUAGES:
        raise FilterError(f"filter-lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"the filter is {len(text)} characters long: at most {MAX_FILTER_CHARS}")
    if not text.strip():
        raise FilterError("the filter is empty")
    with _PARSER_LOCK:
        if _PARSER is None:
            _PARSER = _big_stack_executor()
    try:
        tree = _PARSER.submit(_parse, text, lang).result()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        raise FilterError(
            f"the filter is not valid {lang}: " + " ".join(line.strip() for line in first[:6])
        ) from None
    # a bare TRUE or FALSE is a boolean expression (CQL2 booleanLiteral)
    if not isinstance(tree, dict | bool):
        raise FilterError("the filter must be a boolean expression")
    _check_depth(tree)
    return tree


def _check_depth(tree: Any) -> None:
    """Refuse trees nested deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FilterError(f"the filter is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
