"""HTML faces of the OGC API documents (conformance, collections, a collection, its items
and one item), so that a person can browse the API in a browser as pygeoapi and tipg offer.

Each page is rendered from the JSON document the route answers (the same links, the same
values), in French, with links between the pages and to the JSON/GeoJSON representations.
Plain string templates: every value that comes from data or from the request is escaped
(``html.escape``, quotes included) and shown as text, never as markup or as a link target;
the only link targets are the service's own links."""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 70rem;
       padding: 0 1rem; color: #1e1e1e; line-height: 1.45 }
nav { font-size: .9rem; margin-bottom: 1rem } nav a { margin-right: .3rem }
table { border-collapse: collapse; font-size: .9rem } td, th { border: 1px solid #ccc;
       padding: .2rem .5rem; text-align: left; vertical-align: top }
th { background: #f2f2f2 } .formats a { margin-right: 1rem } code { font-size: .85rem }
"""


def _e(value: Any) -> str:
    """A value as escaped text (None as an empty cell)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False)
    return escape(value, quote=True)


def with_format(href: str, fmt: str) -> str:
    """The link ``href`` with ``f=fmt`` (replacing an ``f`` it has)."""
    parts = urlsplit(href)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "f"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("f", fmt)])))


def _a(href: str, text: str) -> str:
    return f'<a href="{_e(href)}">{_e(text)}</a>'


def _page(title: str, base: str, trail: list[tuple[str, str]], body: str, formats: str) -> str:
    crumbs = [
        _a(base, "Accueil (carte)"),
        _a(f"{base}collections?f=html", "Collections"),
        *(_a(href, text) for href, text in trail),
    ]
    return (
        '<!doctype html>\n<html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · Foncier</title><style>{_STYLE}</style></head><body>"
        f"<nav>{' › '.join(crumbs)}</nav><h1>{_e(title)}</h1>"
        f'<p class="formats">{formats}</p>{body}</body></html>'
    )


def _formats(href: str, *kinds: tuple[str, str]) -> str:
    return "Autres formats : " + " ".join(_a(with_format(href, f), label) for f, label in kinds)


def conformance_page(base: str, document: dict[str, Any]) -> str:
    items = "".join(f"<li><code>{_e(uri)}</code></li>" for uri in document["conformsTo"])
    body = (
        "<p>Les classes de conformité (normes OGC) que ce service met en œuvre.</p>"
        f"<ul>{items}</ul>"
    )
    href = f"{base}conformance"
    return _page("Conformité", base, [], body, _formats(href, ("json", "JSON")))


def _collection_href(base: str, collection: dict[str, Any]) -> str:
    return f"{base}collections/{quote(str(collection['id']), safe='')}"


def _collection_links(base: str, collection: dict[str, Any]) -> str:
    href = _collection_href(base, collection)
    return (
        f"{_a(f'{href}/items?f=html', 'éléments')} · "
        f"{_a(f'{href}/items?f=json', 'GeoJSON')} · "
        f"{_a(f'{href}/queryables', 'propriétés filtrables')}"
    )


def collections_page(base: str, document: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_a(_collection_href(base, c) + '?f=html', c['title'] or c['id'])}"
        f"<br><code>{_e(c['id'])}</code></td><td>{_e(c.get('description'))}</td>"
        f"<td>{_collection_links(base, c)}</td></tr>"
        for c in document["collections"]
    )
    body = (
        "<p>Les jeux de données publiés (OGC API – Features). "
        f"{_a(f'{base}conformance?f=html', 'Conformité')} · "
        f"{_a(f'{base}openapi.json', 'définition OpenAPI')} · "
        f"{_a(f'{base}docs', 'documentation de l’API')}</p>"
        "<table><tr><th>Collection</th><th>Description</th><th>Accès</th></tr>"
        f"{rows}</table>"
    )
    href = f"{base}collections"
    return _page("Collections", base, [], body, _formats(href, ("json", "JSON")))


def collection_page(base: str, collection: dict[str, Any]) -> str:
    extent = collection.get("extent", {}).get("spatial", {}).get("bbox")
    facts = [
        ("Identifiant", f"<code>{_e(collection['id'])}</code>"),
        ("Description", _e(collection.get("description"))),
        ("Accès", _collection_links(base, collection)),
        ("Emprise (WGS84, lon/lat)", _e(", ".join(map(str, extent[0]))) if extent else ""),
        ("Système de stockage", f"<code>{_e(collection.get('storageCrs'))}</code>"),
        ("Systèmes proposés", "<br>".join(f"<code>{_e(c)}</code>" for c in collection["crs"])),
        (
            "Liens",
            "<br>".join(
                f"{_a(link['href'], link.get('title') or link['rel'])} "
                f"<code>{_e(link['rel'])}</code> <code>{_e(link.get('type'))}</code>"
                for link in collection["links"]
            ),
        ),
    ]
    rows = "".join(f"<tr><th>{_e(label)}</th><td>{value}</td></tr>" for label, value in facts)
    href = _collection_href(base, collection)
    return _page(
        collection.get("title") or collection["id"],
        base,
        [],
        f"<table>{rows}</table>",
        _formats(href, ("json", "JSON")),
    )


def _item_href(collection_href: str, feature_id: Any) -> str:
    return f"{collection_href}/items/{quote(str(feature_id), safe='')}?f=html"


def _properties(features: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for feature in features:
        names.update(dict.fromkeys(feature.get("properties") or {}))
    return list(names)


def items_page(
    base: str, collection: dict[str, Any], document: dict[str, Any], self_href: str
) -> str:
    """A page of features as a table: id (a link to the item's page) and properties."""
    features = document["features"]
    names = _properties(features)
    href = _collection_href(base, collection)
    head = "".join(f"<th>{_e(n)}</th>" for n in ["id", "géométrie", *names])
    rows = "".join(
        "<tr>"
        f"<td>{_a(_item_href(href, f['id']), str(f['id']))}</td>"
        f"<td>{_e((f.get('geometry') or {}).get('type'))}</td>"
        + "".join(f"<td>{_e((f.get('properties') or {}).get(n))}</td>" for n in names)
        + "</tr>"
        for f in features
    )
    counts = f"{len(features)} élément(s) sur cette page"
    if "numberMatched" in document:
        counts += f", {document['numberMatched']} en tout"
    following = [lk for lk in document.get("links", []) if lk.get("rel") == "next"]
    more = (
        f"<p>{_a(with_format(following[0]['href'], 'html'), 'Page suivante')}</p>"
        if following
        else ""
    )
    body = (
        f"<p>{_e(counts)}. Filtres : les paramètres de l’API (<code>bbox</code>, "
        f"<code>filter</code>, propriétés…) s’ajoutent à l’adresse.</p>"
        f"<table><tr>{head}</tr>{rows}</table>{more}"
    )
    title = f"{collection.get('title') or collection['id']} : éléments"
    trail = [(f"{href}?f=html", collection.get("title") or "")]
    return _page(title, base, trail, body, _formats(self_href, ("json", "GeoJSON")))


def item_page(
    base: str, collection: dict[str, Any], feature: dict[str, Any], self_href: str
) -> str:
    href = _collection_href(base, collection)
    properties = feature.get("properties") or {}
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in properties.items())
    geometry = feature.get("geometry") or {}
    body = (
        f"<table><tr><th>id</th><td>{_e(feature.get('id'))}</td></tr>"
        f"<tr><th>géométrie</th><td>{_e(geometry.get('type'))}</td></tr>{rows}</table>"
    )
    trail = [
        (f"{href}?f=html", collection.get("title") or collection["id"]),
        (f"{href}/items?f=html", "Éléments"),
    ]
    title = f"{collection.get('title') or collection['id']} {feature.get('id')}"
    return _page(title, base, trail, body, _formats(self_href, ("json", "GeoJSON")))
