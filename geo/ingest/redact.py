"""What a public answer may show of an address or a message written by the sync: never the
credentials of a URL (a mirror's ``user:password@``), never a path on the server (a file
is named by its base name). Applied when the ``sources`` table is written and again when it
is read, so that a row written by an older version is shown clean too."""

from __future__ import annotations

import re

# scheme://userinfo@ -> scheme:// (the userinfo ends at the last @ before the host's end)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s]*@")
# An absolute POSIX path of two or more segments that does not continue a word, a URL's
# host or another path: replaced by its last segment. A directory may hold single spaces
# ("/Users/Jean Dupont/…"): a segment followed by "/" runs over them; the last one stops
# at the first space, so the words after a path stay as they are.
_CHARS = r"[^\s/'\"`,;:()\[\]{}<>]"
_SEGMENT = rf"{_CHARS}+"
_DIRECTORY = rf"{_CHARS}+(?: {_CHARS}+)*(?=/)"
_ABSOLUTE_PATH = re.compile(rf"(?<![\w.:/~\]\-])(?:/{_DIRECTORY})+/({_SEGMENT})")


def public_text(text: str | None) -> str | None:
    """``text`` without URL credentials and with each server path cut to its base name."""
    if text is None:
        return None
    return _ABSOLUTE_PATH.sub(r"\1", _USERINFO.sub(r"\1", text))
