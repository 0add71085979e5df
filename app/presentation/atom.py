"""Alerts as an Atom feed (RFC 4287), for a feed reader, a mail client or a chat tool."""

from __future__ import annotations

import datetime
import re
from typing import Any
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"
# What XML 1.0 cannot carry (its Char production): most C0 controls, surrogates, U+FFFE/F.
# Names are refused with them when saved; a row stored before that must not break the feed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """``value`` as text an XML document can hold (the characters XML 1.0 excludes removed)."""
    return _NOT_XML.sub("", str(value))


def alerts_feed(
    alerts: list[dict[str, Any]], *, self_url: str, feed_id: str, next_url: str | None = None
) -> bytes:
    """The feed of ``alerts`` (oldest first); ``next_url`` links the following page
    (RFC 5005's paged feed)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def add(parent: ET.Element, tag: str, value: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(
            parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()}
        )
        if value is not None:
            element.text = xml_text(value)
        return element

    add(feed, "id", feed_id)
    add(feed, "title", "Foncier: alerts of saved searches")
    updated = alerts[-1]["at"] if alerts else datetime.datetime.now(datetime.UTC).isoformat()
    add(feed, "updated", updated)
    add(feed, "link", href=self_url, rel="self", type="application/atom+xml")
    if next_url:
        add(feed, "link", href=next_url, rel="next", type="application/atom+xml")
    author = add(feed, "author")
    add(author, "name", "Foncier")
    for a in alerts:
        entry = add(feed, "entry")
        add(entry, "id", f"{feed_id}:alert:{a['id']}")
        verb = "now matches" if a["change"] == "appeared" else "no longer matches"
        title = "new match" if a["change"] == "appeared" else "match lost"
        add(entry, "title", f"{a['saved_search_name']}: {title}: {a['item_id']}")
        add(entry, "updated", a["at"])
        detail = a["detail"]
        summary = (
            f"{a['item_id']} (commune {a['commune_insee']}) {verb} the saved search "
            f"{a['saved_search_name']!r}; score {detail.get('score')}, "
            f"{detail.get('area_ha')} ha. Cause: {a['cause']}."
        )
        add(entry, "summary", summary)
        add(entry, "category", term=a["change"])
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
