"""Alerts pushed to a saved search's webhook: signed, retried, never in the import's way, and
never sent inside the service's own network.

The body is the JSON of the search's new alerts; ``X-Foncier-Signature: sha256=<hex>`` is
the HMAC-SHA256 of that exact body with the search's secret (given once, when the search
was saved), so the receiver can check it came from this service and was not altered. The
deliveries run in a background thread after the import has committed; each alert row
records ``delivered`` or ``failed``, whatever happens in the thread.

A webhook URL is a request the service makes on a token holder's behalf, so it must not
reach what only the service can reach (its loopback, the private network, a cloud's metadata
address at 169.254.169.254). :func:`check_webhook_url` refuses such a URL when it is saved,
and :func:`resolve_target` checks it again at each delivery: its host is resolved once,
every address it resolves to must be public (or allowed by the operator), and the request
goes to that checked address (the Host header and the TLS server name and certificate stay
those of the URL's host), so a name that resolves elsewhere a second time (DNS rebinding)
changes nothing. No credentials in the URL, no redirects, a short timeout, and the
receiver's answer is not read past its status.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import anyio
import httpx
from sqlalchemy import Engine, select, update

from geo.db.schema import alert, saved_search
from geo.errors import Invalid
from geo.scoring.owners import active_owner

SIGNATURE_HEADER = "X-Foncier-Signature"
MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# IPv6 prefixes that carry an IPv4 address in their low 32 bits: the IPv4 address decides
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# a DNS name (letters, digits, hyphens, dots), as urlsplit gives it lower-cased
_HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$")

log = logging.getLogger(__name__)


class WebhookRefused(Invalid):
    """A webhook URL the service will not call."""


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (numeric forms such as
    0x7f000001, 2130706433 or 127.1 are resolved too, to what a client would reach)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class WebhookPolicy:
    """Where and how webhooks are called (built from the FONCIER_WEBHOOK_* settings)."""

    allow_http: bool = False
    # internal hosts the operator allows: host names (exact) or addresses and networks (CIDR)
    allowed_hosts: tuple[str, ...] = ()
    timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 2.0
    resolve: Callable[[str, int], list[str]] = system_resolve
    # the TLS trust (an ssl.SSLContext for a private CA, e.g. the tests' receiver)
    verify: ssl.SSLContext | bool = True

    @property
    def patience_s(self) -> float:
        """How long a delivery is waited for: each attempt's timeout and the backoffs
        between them."""
        backoffs = sum(self.backoff_s * 2**attempt for attempt in range(self.retries))
        return (self.retries + 1) * self.timeout_s + backoffs

    def allows(self, host: str, address: IPAddress) -> bool:
        """Whether ``host``, resolved to ``address``, may be called."""
        if host in {h.lower() for h in self.allowed_hosts}:
            return True
        if any(address in network for network in allowed_networks(self.allowed_hosts)):
            return True
        return is_public(address)


def allowed_networks(entries: Iterable[str]) -> list[IPNetwork]:
    """The addresses and networks among allow-list entries (the rest are host names)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return networks


def check_allowed_hosts(entries: Iterable[str]) -> None:
    """ValueError unless each entry is an address, a network (CIDR) or a host name."""
    for entry in entries:
        entry = entry.strip().lower()
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if not _HOST_NAME.match(entry):
                raise ValueError(f"not a host name, address or network: {entry!r}") from None


def is_public(address: IPAddress) -> bool:
    """Whether an address is reachable on the public internet only: not loopback, private,
    link-local, shared (CGNAT 100.64/10), multicast, reserved, unspecified, documentation,
    nor an IPv6 form of such an IPv4 address (mapped, 6to4, NAT64, IPv4-compatible)."""
    if isinstance(address, ipaddress.IPv6Address):
        if int(address) < 2**32:  # ::/96: :: , ::1 and the deprecated IPv4-compatible form
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None or address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True)
class Target:
    """A webhook URL checked and resolved: the address to connect to, and the URL's host
    for the Host header and TLS."""

    parts: SplitResult
    host: str
    port: int
    address: IPAddress

    @property
    def host_is_address(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host (path and query kept)."""
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        path = self.parts.path or "/"
        query = f"?{self.parts.query}" if self.parts.query else ""
        return f"{self.parts.scheme}://{literal}:{self.port}{path}{query}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = {"https": 443, "http": 80}[self.parts.scheme]
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def extensions(self) -> dict[str, Any]:
        """The TLS server name (SNI, and the name the certificate is checked against)."""
        if self.parts.scheme == "https" and not self.host_is_address:
            return {"sni_hostname": self.host}
        return {}


def parse_webhook_url(url: str, policy: WebhookPolicy) -> tuple[SplitResult, str, int]:
    """(parts, host, port) of a well-formed webhook URL; WebhookRefused otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise WebhookRefused(f"webhook_url must be a URL of at most {MAX_URL_LENGTH} characters")
    # printable ASCII only: no CR/LF (header injection), no spaces, no control characters;
    # a host name in another script is written in punycode, a path percent-encoded
    if not all(0x21 <= ord(c) <= 0x7E for c in url):
        raise WebhookRefused(
            "webhook_url must be printable ASCII without spaces or control characters "
            "(percent-encode the path, write an international host name in punycode)"
        )
    schemes = ("https", "http") if policy.allow_http else ("https",)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"webhook_url is not a valid URL: {exc}") from None
    if parts.scheme not in schemes:
        starts = " or ".join(f"{scheme}://" for scheme in schemes)
        raise WebhookRefused(f"webhook_url must start with {starts}")
    if "@" in parts.netloc:
        raise WebhookRefused("webhook_url must not carry credentials (user:password@)")
    host = parts.hostname or ""
    if not host:
        raise WebhookRefused("webhook_url has no host")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise WebhookRefused(f"webhook_url: {host!r} is not an IPv6 address") from None
    elif not _HOST_NAME.match(host):
        raise WebhookRefused(f"webhook_url: {host!r} is not a host name")
    return parts, host.rstrip("."), port or (443 if parts.scheme == "https" else 80)


def resolve_target(url: str, policy: WebhookPolicy) -> Target:
    """The URL checked, its host resolved once and every address it resolves to checked:
    the address to connect to; WebhookRefused otherwise."""
    parts, host, port = parse_webhook_url(url, policy)
    try:
        found = policy.resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise WebhookRefused(f"webhook_url: cannot resolve {host}: {exc}") from None
    addresses = []
    for item in found:
        try:
            addresses.append(ipaddress.ip_address(item.split("%", 1)[0]))
        except ValueError:
            raise WebhookRefused(f"webhook_url: {host} resolves to {item!r}") from None
    if not addresses:
        raise WebhookRefused(f"webhook_url: {host} resolves to no address")
    for address in addresses:
        if not policy.allows(host, address):
            raise WebhookRefused(
                f"webhook_url: {host} is {address}, an internal address (loopback, private, "
                "link-local, reserved…): the service does not call it (an operator can allow "
                "an internal host with FONCIER_WEBHOOK_ALLOWED_HOSTS)"
            )
    return Target(parts, host, port, addresses[0])


def check_webhook_url(url: str, policy: WebhookPolicy) -> None:
    """WebhookRefused unless the service would call ``url`` now."""
    resolve_target(url, policy)


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


def _still_wanted(engine: Engine, search_id: int) -> bool:
    """Whether the search still exists and its owner's token is still active."""
    with engine.connect() as conn:
        owner = conn.execute(
            select(saved_search.c.owner).where(saved_search.c.id == search_id)
        ).scalar()
        return owner is not None and active_owner(conn, owner)


def _post(target: Target, body: bytes, headers: dict[str, str], policy: WebhookPolicy) -> int:
    """The receiver's status; its body is never read (the answer ends at its headers).

    The policy's timeout bounds the whole exchange, connecting to headers received: httpx's
    own bounds each read alone, and a receiver sending its answer a byte at a time would
    hold the delivery as long as it liked."""

    async def post() -> int:
        with anyio.fail_after(policy.timeout_s):
            async with (
                httpx.AsyncClient(
                    timeout=policy.timeout_s,
                    follow_redirects=False,
                    verify=policy.verify,
                    trust_env=False,  # no proxy: the request goes to the checked address itself
                ) as client,
                client.stream(
                    "POST",
                    target.connect_url,
                    content=body,
                    headers={**headers, "Host": target.host_header},
                    extensions=target.extensions,
                ) as response,
            ):
                return response.status_code

    try:
        return anyio.run(post)
    except TimeoutError:
        raise httpx.TimeoutException(f"no answer within {policy.timeout_s:g} s") from None


def _attempts(target: Target, body: bytes, headers: dict[str, str], policy: WebhookPolicy) -> str:
    for attempt in range(policy.retries + 1):
        try:
            status = _post(target, body, headers, policy)
            if 200 <= status < 300:
                return "delivered"
            if status < 500 and status != 429:
                return "failed"  # the receiver refuses it (or redirects): retrying will not help
        except httpx.HTTPError:
            pass
        if attempt < policy.retries:
            time.sleep(policy.backoff_s * 2**attempt)
    return "failed"


def _deliver(engine: Engine, alerts: list[dict[str, Any]], policy: WebhookPolicy) -> None:
    state = "failed"
    try:
        if _still_wanted(engine, alerts[0]["saved_search_id"]):
            target = resolve_target(alerts[0]["webhook_url"], policy)
            body = _payload(alerts)
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(alerts[0]["webhook_secret"], body),
                "X-Foncier-Event": "alerts",
            }
            state = _attempts(target, body, headers, policy)
    except WebhookRefused as exc:
        log.warning("webhook of saved search %s not called: %s", alerts[0]["saved_search_id"], exc)
    except Exception:  # a thread that dies says nothing: the state is recorded whatever fails
        log.exception("webhook of saved search %s failed", alerts[0]["saved_search_id"])
    finally:
        with engine.begin() as conn:
            conn.execute(
                update(alert)
                .where(alert.c.id.in_([a["id"] for a in alerts]))
                .values(webhook_state=state)
            )


def _start(
    engine: Engine, alerts: list[dict[str, Any]], policy: WebhookPolicy
) -> list[tuple[threading.Thread, list[int]]]:
    """One background delivery per saved search with a webhook: its thread, started, and
    its alerts' ids."""
    by_search: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in alerts:
        if a.get("webhook_url") and a.get("webhook_secret"):
            by_search[a["saved_search_id"]].append(a)
    started = []
    for batch in by_search.values():
        thread = threading.Thread(
            target=_deliver,
            args=(engine, batch, policy),
            name=f"webhook-{batch[0]['saved_search_id']}",
            daemon=True,
        )
        thread.start()
        started.append((thread, [a["id"] for a in batch]))
    return started


def deliver_in_background(
    engine: Engine, alerts: list[dict[str, Any]], policy: WebhookPolicy | None = None
) -> list[threading.Thread]:
    """One background delivery per saved search with a webhook; the threads, started."""
    return [thread for thread, _ in _start(engine, alerts, policy or WebhookPolicy())]


def deliver_and_wait(
    engine: Engine,
    alerts: list[dict[str, Any]],
    policy: WebhookPolicy,
    wait_s: float | None = None,
) -> None:
    """The deliveries, in background threads, waited for ``wait_s`` in all (default: the
    policy's patience), for a process about to exit: the alerts of a delivery still running
    then are recorded ``failed`` (its thread may still record them delivered), so that no
    alert is left without a state."""
    deadline = time.monotonic() + (policy.patience_s if wait_s is None else wait_s)
    late: list[int] = []
    for thread, ids in _start(engine, alerts, policy):
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            late += ids
    if late:
        with engine.begin() as conn:
            conn.execute(
                update(alert)
                .where(alert.c.id.in_(late), alert.c.webhook_state.is_(None))
                .values(webhook_state="failed")
            )
