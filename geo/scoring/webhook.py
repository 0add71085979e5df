"""Alerts pushed to a saved search's webhook: signed, retried, never in the import's way.

The body is the JSON of the search's new alerts; ``X-Foncier-Signature: sha256=<hex>`` is
the HMAC-SHA256 of that exact body with the search's secret (given once, when the search
was saved), so the receiver can check it came from this service and was not altered. The
deliveries run in a background thread after the import has committed; each alert row
records ``delivered`` or ``failed``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import Engine, update

from geo.db.schema import alert

SIGNATURE_HEADER = "X-Foncier-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _payload(alerts: list[dict[str, Any]]) -> bytes:
    first = alerts[0]
    return json.dumps(
        {
            "saved_search": {"id": first["saved_search_id"], "name": first["saved_search_name"]},
            "alerts": [
                {k: a[k] for k in ("id", "change", "item_id", "commune_insee", "detail", "cause")}
                for a in alerts
            ],
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def _deliver(
    engine: Engine,
    alerts: list[dict[str, Any]],
    timeout_s: float,
    retries: int,
    backoff_s: float,
) -> None:
    body = _payload(alerts)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(alerts[0]["webhook_secret"], body),
        "X-Foncier-Event": "alerts",
    }
    state = "failed"
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for attempt in range(retries + 1):
            try:
                response = client.post(alerts[0]["webhook_url"], content=body, headers=headers)
                if response.is_success:
                    state = "delivered"
                    break
                if response.status_code < 500 and response.status_code != 429:
                    break  # the receiver refuses it: retrying will not help
            except httpx.HTTPError:
                pass
            if attempt < retries:
                time.sleep(backoff_s * 2**attempt)
    with engine.begin() as conn:
        conn.execute(
            update(alert)
            .where(alert.c.id.in_([a["id"] for a in alerts]))
            .values(webhook_state=state)
        )


def deliver_in_background(
    engine: Engine,
    alerts: list[dict[str, Any]],
    *,
    timeout_s: float = 10.0,
    retries: int = 3,
    backoff_s: float = 2.0,
) -> list[threading.Thread]:
    """One background delivery per saved search with a webhook; the threads, started."""
    by_search: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in alerts:
        if a.get("webhook_url") and a.get("webhook_secret"):
            by_search[a["saved_search_id"]].append(a)
    threads = []
    for batch in by_search.values():
        thread = threading.Thread(
            target=_deliver,
            args=(engine, batch, timeout_s, retries, backoff_s),
            name=f"webhook-{batch[0]['saved_search_id']}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    return threads
