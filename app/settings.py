"""Settings read from the environment (prefix ``FONCIER_``), documented in docs/deployment.md."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PROJECT_DIR = Path(__file__).resolve().parent.parent


class _FromEnvironment(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FONCIER_", extra="ignore")


class DatabaseSettings(_FromEnvironment):
    """Which PostgreSQL server: an external one, or the embedded one (app/localdb)."""

    # When set, this server is used and the embedded PostGIS is never touched
    # (docker compose, production). Any SQLAlchemy URL; plain postgresql:// is
    # mapped to the psycopg 3 driver.
    database_url: str | None = None

    # The embedded PostGIS the project manages when database_url is not set.
    pg_port: int = Field(default=55432, ge=1024, le=65535)
    # Unset: .pgdata in the checkout, or a directory under /var/lib/foncier named after
    # the checkout when the postgres user cannot reach it (app/localdb/cluster.py).
    pg_data_dir: Path | None = None
    # Unset: the installed server is discovered, or installed (app/localdb/pgserver.py).
    pg_bin_dir: Path | None = None
    db_name: str = "foncier"
    # pgBackRest's repository for the embedded PostGIS (app/localdb/backup.py). Unset:
    # ``<data dir>.backup`` beside the data directory; on a server, another disk.
    backup_repo: Path | None = None
    # Hot standbys of that server (PostgreSQL streaming replication), comma-separated
    # SQLAlchemy URLs: the web service reads from them (app/replicas.py).
    read_replica_urls: str = ""
    # The commits of audited writes (every ledger write, tokens, saved searches) wait for
    # the server's synchronous standby (``synchronous_standby_names``) at this level,
    # set in those transactions only: reads and imports keep the server's own
    # ``synchronous_commit``. Unset: the server's own for them too (``off`` on the
    # embedded cluster). docs/operations.md, "Failover", says why remote_apply.
    sync_ledger_commit: Literal["remote_apply", "on", "remote_write"] | None = None
    # The server is reached through a pooler in transaction mode (pgbouncer's
    # pool_mode = transaction), where each transaction may run on another server
    # connection: no server-side prepared statements (psycopg prepares a query run five
    # times on a connection; through pgbouncer 1.18 the next one fails, "prepared statement
    # _pg3_0 already exists"), and no startup options (pgbouncer refuses them): the web
    # service's statement_timeout and jit = off are then set in each of its transactions.
    transaction_pooler: bool = False

    @field_validator("database_url")
    @classmethod
    def _check_hosts(cls, url: str | None) -> str | None:
        # libpq's "host_a:5432,host_b:5432" in the address is not a URL SQLAlchemy reads
        # (it fails later, on a port that is not a number); its query form is.
        netloc = (url or "").partition("://")[2].split("/", 1)[0]
        if "," in netloc:
            raise ValueError(
                "FONCIER_DATABASE_URL: several servers go in the query, not in the address: "
                "postgresql://user@/dbname?host=host_a:5432&host=host_b:5432"
                "&target_session_attrs=read-write"
            )
        return url

    @property
    def replica_urls(self) -> list[str]:
        return [normalise_url(u.strip()) for u in self.read_replica_urls.split(",") if u.strip()]

    @property
    def uses_embedded_db(self) -> bool:
        return self.database_url is None

    def url_for(self, db_name: str | None = None) -> str:
        """SQLAlchemy URL of the configured server, optionally for another database on it."""
        if self.database_url is None:
            url = f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/{self.db_name}"
        else:
            url = normalise_url(self.database_url)
        if db_name is None:
            return url
        return make_url(url).set(database=db_name).render_as_string(hide_password=False)


class ApiSettings(_FromEnvironment):
    """How the web service answers: paging, limits, caching, origins, its public address."""

    # Paging of feature collections.
    default_page_size: int = Field(default=100, ge=1)
    max_page_size: int = Field(default=1000, ge=1)

    # Limits: each is answered with a problem document, never a 500 or a hung worker.
    max_bbox_degrees: float = Field(default=2.0, gt=0)  # per side of a bbox, in degrees
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_geometry_vertices: int = Field(default=20_000, ge=4)
    statement_timeout_ms: int = Field(default=15_000, ge=1)
    # What counting a search's matches (numberMatched) may cost an answer: past it the count
    # is left out (geo.db.count). Unfiltered collections read counts kept by the loaders.
    count_budget_ms: int = Field(default=300, ge=1, le=60_000)
    # Longest wait for a free connection of the service's pool: past it, a 503.
    pool_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # /health's own budget for the database (its ping, its query; at least 2 s to connect,
    # libpq's least): a stuck database answers 503 within about twice this.
    health_timeout_s: float = Field(default=1.0, gt=0, le=30)
    # Connections of one service process, to the primary and to each standby: the pool and
    # what it may open beyond at peak. ``foncier serve --workers N`` multiplies them by N.
    pool_size: int = Field(default=10, ge=1, le=200)
    pool_max_overflow: int = Field(default=10, ge=0, le=200)
    # A candidate site search (an unauthenticated graph walk) stops past this many seconds.
    site_search_seconds: float = Field(default=3.0, gt=0, le=60)
    # Exports (CSV, GeoJSON, GeoPackage of a whole search), per service process: how many
    # are written at once (each on a connection of a pool of that size, apart from the
    # requests' own; writing is mostly Python work, which one process runs on one core at a
    # time), how many one client address may have under way (written or being received),
    # and how many may be under way in total (a temporary file each); beyond, 429.
    export_concurrency: int = Field(default=2, ge=1, le=64)
    export_per_client: int = Field(default=2, ge=1)
    export_max_open: int = Field(default=32, ge=1)
    # Longest wait for a client to take the next part (256 KiB) of an export being sent:
    # past it, the export is dropped and its file freed (a client that stops reading held
    # its temporary file, and its place under the limits, for as long as it kept the socket).
    export_stall_s: float = Field(default=60.0, gt=0, le=3600)

    # Vector tiles: how long clients and proxies may keep a tile (Cache-Control max-age).
    tile_cache_seconds: int = Field(default=300, ge=0)
    # Tiles already made, kept in each process's memory up to this many megabytes (0: none);
    # a write never lets a process serve a tile made before it (app/services/tile_cache.py).
    tile_cache_mb: int = Field(default=256, ge=0)

    # Browser origins allowed to send a token or write from another site (CORS),
    # comma-separated, e.g. "https://carto.example.fr,http://localhost:5173"; never "*".
    # Public reads (items, tiles, TileJSON, searches…) are open to every origin anyway.
    cors_origins: str = ""

    # The address clients reach the service at, e.g. "https://foncier.example.fr" (or with a
    # path prefix behind a proxy): the root of the absolute links of answers (next pages,
    # OGC links, TileJSON). Unset: the address the server listens on. Never taken from the
    # request's Host header, which the client chooses.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")

    @model_validator(mode="after")
    def _check_paging(self) -> ApiSettings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("FONCIER_DEFAULT_PAGE_SIZE must not exceed FONCIER_MAX_PAGE_SIZE")
        return self

    @model_validator(mode="after")
    def _check_origins(self) -> ApiSettings:
        for origin in self.cors_origin_list:
            if not re.fullmatch(r"https?://[^/\s*]+", origin):
                raise ValueError(
                    f"FONCIER_CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port], "
                    "no path, no wildcard: token routes answer named origins only)"
                )
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


class SecuritySettings(_FromEnvironment):
    """Who may write."""

    # Writes (project ledger) need "Authorization: Bearer <token>": this administrator's
    # token, or one made by `foncier token create` (per territory and role). Unset: only
    # the latter.
    admin_token: str | None = Field(default=None, min_length=16)
    admin_name: str = "admin"


class DataSettings(_FromEnvironment):
    """Where the shipped demo data lives."""

    data_dir: Path = PROJECT_DIR / "data"


# The Géoplateforme's WMTS GetTile, as XYZ (PM is the Web Mercator pyramid).
_GEOPF_WMTS = (
    "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&STYLE=normal"
    "&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
)
PLAN_IGN_URL = _GEOPF_WMTS + "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&FORMAT=image/png"
ORTHOPHOTOS_URL = _GEOPF_WMTS + "&LAYER=ORTHOIMAGERY.ORTHOPHOTOS&FORMAT=image/jpeg"
IGN_ATTRIBUTION = '<a href="https://www.ign.fr/">© IGN</a> – Géoplateforme, Licence Ouverte'


class PageSettings(_FromEnvironment):
    """The map page. Its basemap is IGN's Plan IGN by default, from the Géoplateforme's
    public WMTS (no key, Licence Ouverte; GetTile in the PM pyramid, which is XYZ's):
    https://ignf.github.io/cartes.gouv.fr-documentation/fr/guides-utilisateur/acceder-aux-geodonnees/diffusion/wmts
    "raster": FONCIER_BASEMAP_URL is an XYZ/WMTS tile URL with {z}, {x}, {y}; "vector": a
    MapLibre style JSON URL (a self-hosted style), drawn under Foncier's layers; "none":
    the page needs nothing outside the service. The aerial imagery (ORTHOIMAGERY.ORTHOPHOTOS)
    is the page's second choice of background; an empty FONCIER_BASEMAP_AERIAL_URL removes
    it. When the basemap host cannot be reached the page says so and draws the territories'
    outlines from Foncier's own tiles.

    FONCIER_STATE_DEPLOYMENT: the State's bloc-marque (Marianne, "République française")
    is reserved to State services (the DSFR's terms of use): shown only when this is true."""

    basemap_kind: Literal["none", "raster", "vector"] = "raster"
    basemap_url: str | None = Field(default=PLAN_IGN_URL, pattern=r"^https?://\S+$")
    basemap_attribution: str = Field(default=IGN_ATTRIBUTION, max_length=500)
    basemap_aerial_url: str = Field(default=ORTHOPHOTOS_URL, pattern=r"^(https?://\S+)?$")
    state_deployment: bool = False

    @model_validator(mode="after")
    def _check_basemap(self) -> PageSettings:
        if self.basemap_kind != "none" and not self.basemap_url:
            raise ValueError("FONCIER_BASEMAP_KIND needs FONCIER_BASEMAP_URL")
        return self


class SyncSettings(_FromEnvironment):
    """How `foncier sync` talks to the publishers (geo/ingest/sync.py, geo/ingest/fetch.py)."""

    # The raw files, with their SHA-256 and validators.
    sync_cache_dir: Path = PROJECT_DIR / ".cache" / "sources"
    # An address replacing the scheme and host of every catalogued URL (path and query
    # kept): an internal mirror, or the test suite's recorded publishers. Unset: the
    # publishers themselves.
    sync_mirror: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    sync_timeout_s: float = Field(default=60.0, gt=0)
    sync_retries: int = Field(default=4, ge=0, le=10)
    sync_backoff_s: float = Field(default=2.0, ge=0)
    sync_backoff_max_s: float = Field(default=60.0, ge=0)
    sync_concurrency: int = Field(default=4, ge=1, le=32)
    sync_max_bytes: int = Field(default=4_000_000_000, ge=1)
    # What a gzip or zip body may expand to (checked as it streams, before any import): the
    # largest part synced (a big commune's cadastre, a département's owner file) expands to
    # a few hundred MB; beyond 4 GB it is a bomb or a mistake. And by how many times its
    # own size (real files: 5-160 times; zeros: ~1000), past the first 16 MiB.
    sync_max_expanded_bytes: int = Field(default=4_000_000_000, ge=1)
    sync_max_ratio: float = Field(default=500, gt=1)

    def fetch_settings(self):
        """The HTTP client's settings (geo.ingest.fetch)."""
        from dataclasses import fields

        from geo.ingest.fetch import FetchSettings

        # each of its fields is the setting sync_<field>
        return FetchSettings(
            **{f.name: getattr(self, f"sync_{f.name}") for f in fields(FetchSettings)}
        )


class WebhookSettings(_FromEnvironment):
    """How saved searches are kept and re-run, and their alerts pushed (geo/scoring/watch.py,
    geo/scoring/webhook.py)."""

    # https only unless this is set (a test receiver, a LAN).
    webhook_allow_http: bool = False
    # Internal hosts webhooks may call, comma-separated: host names (exact), addresses or
    # networks (CIDR), e.g. "hooks.intranet,10.1.2.0/24". Unset: public addresses only
    # (never loopback, private, link-local, CGNAT, multicast or reserved ones).
    webhook_allowed_hosts: str = ""
    # Each attempt whole (connecting, sending, the answer's headers); its body is never read.
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    webhook_retries: int = Field(default=3, ge=0, le=10)
    webhook_backoff_s: float = Field(default=2.0, ge=0)
    # Saved searches one token may keep.
    saved_search_quota: int = Field(default=20, ge=1, le=10_000)
    # All the saved searches re-run after one import, sync or refresh stop past this many
    # seconds (the searches left keep their baseline and are said); one search past 30 s.
    saved_search_rerun_seconds: float = Field(default=60.0, gt=0)

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _check_allowed_hosts(cls, value: str) -> str:
        from geo.scoring.webhook import check_allowed_hosts

        check_allowed_hosts(h for h in value.split(",") if h.strip())
        return value

    def webhook_policy(self):
        """The webhook client's policy (geo.scoring.webhook)."""
        from geo.scoring.webhook import WebhookPolicy

        return WebhookPolicy(
            allow_http=self.webhook_allow_http,
            allowed_hosts=tuple(
                h.strip().lower() for h in self.webhook_allowed_hosts.split(",") if h.strip()
            ),
            timeout_s=self.webhook_timeout_s,
            retries=self.webhook_retries,
            backoff_s=self.webhook_backoff_s,
        )


class Settings(
    DatabaseSettings,
    ApiSettings,
    SecuritySettings,
    DataSettings,
    PageSettings,
    SyncSettings,
    WebhookSettings,
):
    """Every setting, for what needs several concerns at once (the app, the CLI)."""


def normalise_url(url: str) -> str:
    """Map libpq-style URLs to the psycopg 3 SQLAlchemy dialect."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
