"""Downloads from the publishers: an HTTP client that survives their bad days.

Each download has a timeout; a 5xx, a 429, a timeout or a connection cut is retried with
exponential backoff (Retry-After honoured up to the backoff cap); a body cut short resumes
with a Range request (If-Range guards against a file that changed meanwhile); a copy
already cached is revalidated with If-None-Match / If-Modified-Since, and a 304 is not
downloaded again. A redirect is followed only to the address's own host or to a host the
source declares, never from https to http. What arrives is checked before anyone imports
it, in bounded memory: its Content-Type, its size against Content-Length and a ceiling,
then its body (geo.ingest.bodies: not an HTML page, parsing as a stream, archives
expanding within limits). The cache keeps each file with its SHA-256, ETag and Last-Modified
in a side-car ``.meta.json``; a new body is left in a ``.new`` file for the caller to swap
in and keep once imported, so a failed import revalidates nothing.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from geo.ingest.archives import (
    Limits,
)
from geo.ingest.bodies import Empty, Expect, FetchError, check_body

USER_AGENT = "foncier-sync/0.1 (+https://github.com/foncier)"
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class FetchSettings:
    """The HTTP client's settings. No defaults here: they are the environment's, the
    settings ``FONCIER_SYNC_<field>`` (app.settings), given whole by ``fetch_settings``."""

    timeout_s: float
    retries: int
    backoff_s: float
    backoff_max_s: float
    concurrency: int
    max_bytes: int  # as downloaded
    # What a gzip or zip body may expand to, and by how many times its own size: checked
    # as it is decompressed, before anyone imports it (geo.ingest.archives).
    max_expanded_bytes: int
    max_ratio: float

    @property
    def limits(self) -> Limits:
        return Limits(max_expanded_bytes=self.max_expanded_bytes, max_ratio=self.max_ratio)


MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


def redirect_refused(origin: str, target: str, hosts: tuple[str, ...] = ()) -> str | None:
    """Why a redirect from ``origin`` to ``target`` is not followed, or None. Followed: to
    the same host and port, or to a host of ``hosts``; never from https to http, never to
    another scheme."""
    was, to = urlsplit(origin), urlsplit(target)
    if to.scheme not in ("http", "https") or (was.scheme == "https" and to.scheme != "https"):
        return f"redirected to {to.scheme or 'no'}:// from {was.scheme}://: refused"
    if to.username or to.password:
        return "redirected to an address with credentials: refused"
    try:
        same = (was.hostname, was.port or _DEFAULT_PORTS[was.scheme]) == (
            to.hostname,
            to.port or _DEFAULT_PORTS[to.scheme],
        )
    except ValueError:
        return "redirected to a malformed address: refused"
    if same or (to.hostname or "") in {h.lower() for h in hosts}:
        return None
    return (
        f"redirected to another host ({to.hostname}): refused (the hosts a source may "
        "redirect to are its redirect_hosts in sources.toml)"
    )


@dataclass
class Fetched:
    url: str
    path: Path  # where the file is (or will be, once committed) in the cache
    outcome: str  # fetched | not-modified | missing | failed
    reason: str = ""
    sha256: str | None = None
    size: int = 0
    etag: str | None = None
    last_modified: str | None = None
    attempts: int = 0
    resumed: bool = False
    previous_sha256: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def new_path(self) -> Path:
        return _new(self.path)

    def swap_in(self) -> Path | None:
        """The new body takes the cached copy's name; the previous copy (if any) and its
        metadata are kept aside and the copy's path returned, for ``keep`` or ``swap_back``.
        Until then the new body has no metadata: a run killed meanwhile leaves a file the
        next run does not trust (fetched again, unconditionally)."""
        backup = None
        if self.path.exists():
            backup = self.path.with_name(self.path.name + ".previous")
            self.path.replace(backup)
            with contextlib.suppress(FileNotFoundError):
                _meta_path(self.path).replace(_meta_path(backup))
        self.new_path.replace(self.path)
        return backup

    def keep(self, backup: Path | None) -> None:
        """The new body is the cached copy (its import succeeded): its validators saved."""
        if backup is not None:
            backup.unlink()
            with contextlib.suppress(FileNotFoundError):
                _meta_path(backup).unlink()
        _meta_path(self.path).write_text(json.dumps(self.meta, indent=1))

    def swap_back(self, backup: Path | None) -> None:
        """The import was refused: the previous copy and its metadata back, the new body
        dropped."""
        if backup is not None:
            backup.replace(self.path)
            with contextlib.suppress(FileNotFoundError):
                _meta_path(backup).replace(_meta_path(self.path))
        else:
            self.path.unlink()

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.new_path.unlink()

    @property
    def vintage(self) -> datetime.datetime | None:
        if not self.last_modified:
            return None
        try:
            return parsedate_to_datetime(self.last_modified)
        except (TypeError, ValueError):
            return None


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _new(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _resume_path(path: Path) -> Path:
    return path.with_name(path.name + ".part.json")


def _read_resume(path: Path, url: str) -> dict[str, Any]:
    """The validator a previous run left to resume ``path``'s half body, or nothing."""
    try:
        saved = json.loads(_resume_path(path).read_text())
    except (OSError, ValueError):
        saved = {}
    if _part(path).exists() and saved.get("url") == url and saved.get("validator"):
        return {"validator": saved["validator"]}
    for leftover in (_part(path), _resume_path(path)):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    return {}


def read_meta(path: Path) -> dict[str, Any]:
    try:
        return json.loads(_meta_path(path).read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Bar(Protocol):
    """A progress bar of one download (tqdm's interface)."""

    def update(self, n: int) -> object: ...

    def close(self) -> None: ...


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


# (file name, bytes expected or None) -> a bar, closed when the body has arrived or failed
Progress = Callable[[str, int | None], Bar]


def _no_progress(_name: str, _total: int | None) -> Bar:
    return _NoBar()


class Fetcher:
    def __init__(
        self,
        settings: FetchSettings,
        progress: Progress | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.progress = progress or _no_progress
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s),
            follow_redirects=False,  # followed by _attempt, within the allowed hosts
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            limits=httpx.Limits(max_connections=max(settings.concurrency, 1)),
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def fetch_all(self, jobs: Iterable[tuple[str, Path, Expect]]) -> list[Fetched]:
        """Every job, at most ``concurrency`` at once, in the order given."""
        jobs = list(jobs)
        with ThreadPoolExecutor(max_workers=max(self.settings.concurrency, 1)) as pool:
            return list(pool.map(lambda job: self._fetch_or_fail(*job), jobs))

    def _fetch_or_fail(self, url: str, path: Path, expect: Expect) -> Fetched:
        """``fetch``, an unexpected error (a full disk…) failing this download only."""
        try:
            return self.fetch(url, path, expect)
        except Exception as exc:
            with contextlib.suppress(OSError):
                _new(path).unlink()
            return Fetched(url, path, "failed", f"{type(exc).__name__}: {exc}")

    def fetch(self, url: str, path: Path, expect: Expect) -> Fetched:
        path.parent.mkdir(parents=True, exist_ok=True)
        cached = read_meta(path)
        result = Fetched(url=url, path=path, outcome="failed", previous_sha256=cached.get("sha256"))
        # A body an interrupted run left half-way resumes where it stopped, if the run
        # recorded the validator to resume it with (its If-Range: a file that changed since
        # is sent whole); an unimported new body is fetched again.
        with contextlib.suppress(FileNotFoundError):
            _new(path).unlink()
        resume: dict[str, Any] = _read_resume(path, url)
        s = self.settings
        for attempt in range(s.retries + 1):
            result.attempts = attempt + 1
            try:
                self._attempt(url, path, expect, cached, resume, result)
                break
            except _Retry as retry:
                result.reason = str(retry)
                if attempt == s.retries:
                    result.reason = f"{retry} (after {attempt + 1} attempts)"
                    break
                wait = min(s.backoff_s * 2**attempt, s.backoff_max_s)
                if retry.wait is not None:
                    wait = min(max(wait, retry.wait), s.backoff_max_s)
                time.sleep(wait)
            except FetchError as exc:
                result.reason = str(exc)
                break
        if result.outcome in ("fetched", "not-modified", "missing") or not resume:
            # done, or nothing to resume with: no half body kept
            for leftover in (_part(path), _resume_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        return result

    def _attempt(
        self,
        url: str,
        path: Path,
        expect: Expect,
        cached: dict[str, Any],
        resume: dict[str, Any],
        result: Fetched,
    ) -> None:
        part = _part(path)
        offset = part.stat().st_size if part.exists() and resume else 0
        headers: dict[str, str] = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            headers["If-Range"] = resume["validator"]
        elif cached and path.exists():
            if cached.get("etag"):
                headers["If-None-Match"] = cached["etag"]
            if cached.get("last_modified"):
                headers["If-Modified-Since"] = cached["last_modified"]
        try:
            target = url
            for _hop in range(MAX_REDIRECTS + 1):
                with self.client.stream("GET", target, headers=headers) as response:
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        target = str(response.url.join(location))
                        refused = redirect_refused(url, target, expect.redirect_hosts)
                        if refused:
                            raise FetchError(refused)
                        continue
                    self._receive(response, path, expect, offset, resume, result)
                    break
            else:
                raise FetchError(f"more than {MAX_REDIRECTS} redirects")
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed or body cut short ({exc})") from exc
        if result.outcome == "fetched":
            self._finish(path, expect, cached, result)

    def _receive(
        self,
        response: httpx.Response,
        path: Path,
        expect: Expect,
        offset: int,
        resume: dict[str, Any],
        result: Fetched,
    ) -> None:
        status = response.status_code
        if status == 304:
            result.outcome, result.reason = "not-modified", "304 Not Modified"
            result.sha256 = result.previous_sha256
            meta = read_meta(path)
            result.etag, result.last_modified = meta.get("etag"), meta.get("last_modified")
            result.size = meta.get("size", 0)
            return
        if status in (404, 410):
            result.outcome = "missing"
            raise FetchError(f"{status}: the publisher has no such file")
        if status in RETRY_STATUS:
            raise _Retry(f"HTTP {status}", _retry_after(response))
        if status not in (200, 206):
            raise FetchError(f"HTTP {status}")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if expect.content_types and content_type not in expect.content_types:
            raise FetchError(
                f"Content-Type {content_type or 'missing'}, expected "
                f"{' or '.join(expect.content_types)}"
            )
        part = _part(path)
        if status == 206:
            start = _range_start(response.headers.get("content-range", ""))
            if start != offset:
                raise FetchError(f"the server resumed at byte {start}, not {offset}")
            mode = "ab"
            result.resumed = True
        else:
            offset, mode = 0, "wb"
        length = response.headers.get("content-length")
        expected = offset + int(length) if length and length.isdigit() else None
        if expected is not None and expected > self.settings.max_bytes:
            raise FetchError(
                f"{expected} bytes announced, above the {self.settings.max_bytes} limit"
            )
        validator = response.headers.get("etag") or response.headers.get("last-modified")
        if validator and "bytes" in response.headers.get("accept-ranges", ""):
            resume["validator"] = validator
            saved = {"url": result.url, "validator": validator}
            _resume_path(path).write_text(json.dumps(saved))
        else:
            resume.clear()
            with contextlib.suppress(FileNotFoundError):
                _resume_path(path).unlink()
        result.etag = response.headers.get("etag")
        result.last_modified = response.headers.get("last-modified")
        bar = self.progress(path.name, expected)
        received = offset
        try:
            bar.update(offset)
            with part.open(mode) as out:
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if received > self.settings.max_bytes:
                        raise FetchError(f"more than {self.settings.max_bytes} bytes")
        finally:
            bar.close()
        if expected is not None and received < expected:
            raise _Retry(f"body cut short at {received} of {expected} bytes")
        result.outcome = "fetched"
        result.size = received

    def _finish(self, path: Path, expect: Expect, cached: dict[str, Any], result: Fetched) -> None:
        part = _part(path)
        try:
            check_body(part, expect, self.settings.limits)
        except FetchError as exc:
            part.unlink()
            with contextlib.suppress(FileNotFoundError):
                _resume_path(path).unlink()  # a refused body is not resumed
            result.outcome = "missing" if isinstance(exc, Empty) else "failed"
            raise
        result.sha256 = sha256_file(part)
        result.meta = {
            "url": result.url,
            "sha256": result.sha256,
            "size": result.size,
            "etag": result.etag,
            "last_modified": result.last_modified,
            "fetched_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        if result.sha256 == cached.get("sha256") and path.exists():
            # a server without validators sent the same bytes again: nothing new
            part.unlink()
            result.outcome, result.reason = "not-modified", "same SHA-256 as the cached copy"
            _meta_path(path).write_text(json.dumps(result.meta, indent=1))
            return
        part.replace(_new(path))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def _range_start(content_range: str) -> int | None:
    # "bytes 100-199/200"
    try:
        return int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


# The largest single JSON element (a feature, an entry of an API's answer) the check holds
# in memory (peak memory is a few times this); a cadastre parcel is a few kB, a PLU zone
# or a commune outline a few MB.
