"""One typed, frozen configuration, loaded from ``config.toml`` plus environment overrides.

Every setting is declared once here, with its default and help text. The environment
carries only secrets and deployment overrides (see ``ENV_OVERRIDES``). A bad value fails
with a one-line :class:`~scanner.errors.ConfigError` that names the key.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError

NCBI_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
#: NCBI's published limits: requests per second without and with an API key.
NCBI_RATE_NO_KEY = 3.0
NCBI_RATE_WITH_KEY = 10.0

#: Environment variable -> dotted config key it overrides.
ENV_OVERRIDES: dict[str, str] = {
    "SCANNER_DATABASE_URL": "database.url",
    "SCANNER_EUTILS_URL": "eutils.base_url",
    "NCBI_API_KEY": "eutils.api_key",
    "NCBI_EMAIL": "eutils.email",
    "SCANNER_SCAN_START": "scan.start",
}


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseSettings(_Section):
    url: str = Field(
        "sqlite:///var/scanner.sqlite",
        description="SQLAlchemy URL. A relative SQLite path is relative to the config file.",
    )
    busy_timeout_ms: int = Field(30_000, ge=0, description="SQLite busy timeout.")


class EutilsSettings(_Section):
    base_url: str = Field(NCBI_EUTILS_URL, description="E-utilities base URL.")
    tool: str = Field("mecfs-scanner", description="NCBI `tool` parameter (no spaces).")
    email: str = Field("", description="NCBI `email` parameter; NCBI_EMAIL overrides.")
    api_key: SecretStr | None = Field(None, description="From NCBI_API_KEY only; never logged.")
    requests_per_second: float | None = Field(
        None, ge=0,
        description="Rate limit. Unset: 3/s without an API key, 10/s with one. "
        "0 lifts the limit (local servers only).",
    )
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(60.0, gt=0, description="Seconds to wait for response data.")
    max_attempts: int = Field(6, ge=1, le=20, description="Tries per request before failing.")
    backoff_base: float = Field(1.0, ge=0, description="First backoff step in seconds.")
    backoff_max: float = Field(60.0, ge=0, description="Longest wait between tries.")
    batch_size: int = Field(200, ge=1, le=10_000, description="Records per efetch call.")
    max_response_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Largest E-utilities response accepted.")

    @field_validator("tool")
    @classmethod
    def _tool_has_no_spaces(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value):
            raise ValueError("must be a non-empty name without spaces")
        return value

    @field_validator("base_url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value if value.endswith("/") else value + "/"

    @property
    def is_ncbi(self) -> bool:
        host = urlsplit(self.base_url).hostname or ""
        return host == "ncbi.nlm.nih.gov" or host.endswith(".ncbi.nlm.nih.gov")

    @property
    def effective_rate(self) -> float:
        """Requests per second actually allowed (0 means unlimited)."""
        allowed = NCBI_RATE_WITH_KEY if self.api_key else NCBI_RATE_NO_KEY
        if self.requests_per_second is None:
            return allowed
        return self.requests_per_second


class ScanSettings(_Section):
    start: dt.date | None = Field(
        None, description="First create-date day for a store with no watermark "
        "(SCANNER_SCAN_START overrides); unset: today minus lookback_days.",
    )
    lookback_days: int = Field(30, ge=1, description="Days scanned when there is no watermark.")
    overlap_days: int = Field(7, ge=0, description="Days before the watermark re-queried.")
    window_days: int = Field(
        0, ge=0, description="0: one esearch window for the whole range, partitioned only "
        "where esearch's 9,999 cap requires; N: fixed N-day windows (the old planner, kept "
        "for benchmarks/backfill.py's comparison)."
    )
    lock_ttl_seconds: int = Field(600, ge=10, description="Scan lock lease, renewed per batch.")
    missing_max_attempts: int = Field(
        5, ge=1, description="Scans that retry a record asked for but not returned."
    )


class ScheduleSettings(_Section):
    scan_cron: str = Field("0 6 * * *", description="UTC cron for the scan (daemon).")
    recheck_cron: str = Field("0 8 * * 0", description="UTC cron for the recheck.")
    recheck_limit: int = Field(
        0, ge=0, description="Records a recheck re-checks, oldest-checked first; 0: all.")
    misfire_grace_seconds: int = Field(
        21_600, ge=1, description="A run missed by up to this long still runs (once).")
    retry_seconds: int = Field(
        900, ge=0, description="First retry after a failed run, doubled per failure "
        "(at most 6 h); 0: wait for the next scheduled run.")
    lease_ttl_seconds: float = Field(
        60.0, ge=1, description="Daemon lease: a standby takes over this long after the "
        "last heartbeat (at once when the holder's process on this host is gone).")
    heartbeat_seconds: float = Field(
        10.0, gt=0, description="How often the daemon renews its lease and a standby "
        "checks it; below lease_ttl_seconds.")
    stop_timeout_seconds: float = Field(
        25.0, gt=0, le=3600, description="After SIGTERM, how long the run in hand may take "
        "to reach a batch boundary before its batch is abandoned and the daemon exits.")

    @field_validator("scan_cron", "recheck_cron")
    @classmethod
    def _cron_parses(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone=dt.UTC)
        except ValueError as exc:
            raise ValueError(f"not a 5-field cron expression: {value!r} ({exc})") from None
        return value

    @model_validator(mode="after")
    def _heartbeat_within_ttl(self) -> ScheduleSettings:
        if self.heartbeat_seconds >= self.lease_ttl_seconds:
            raise ValueError("heartbeat_seconds must be below lease_ttl_seconds")
        return self


class PolicySettings(_Section):
    dir: str | None = Field(
        None, description="Policy directory, relative to the config file; unset: the "
        "policies shipped with the scanner (a checkout's policies/).")
    active: str = Field("v0.4", description="Version of the active policy.")


class ReviewSettings(_Section):
    host: str = Field("127.0.0.1", description="Address `scanner serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `scanner serve` listens on.")
    session_hours: float = Field(12.0, gt=0, description="Sign-in lifetime in hours.")
    secure_cookies: bool = Field(
        True, description="Mark the session cookie Secure (browsers still send it to "
                          "http://localhost and 127.0.0.1).")
    page_size: int = Field(50, ge=5, le=500, description="Drafts per queue page.")
    upload_max_mb: float = Field(
        20.0, gt=0, le=500,
        description="Largest full text (PDF or plain text) a curator may upload, in MB.")
    upload_max_pages: int = Field(
        500, ge=1, le=10_000, description="Most pages read from an uploaded PDF.")
    idle_minutes: float = Field(
        60.0, gt=0, description="A session unused this long is signed out (idle timeout).")
    max_body_bytes: int = Field(1_000_000, ge=10_000, description="Largest request body (413).")
    max_field_chars: int = Field(20_000, ge=100, description="Longest text field (422).")
    login_attempts: int = Field(
        10, ge=1, description="Failed sign-ins per account, and 5x this per address, within "
                              "login_window_minutes before sign-in is refused for a while.")
    login_window_minutes: float = Field(15.0, gt=0, description="Window of the login throttle.")


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    eutils: EutilsSettings = EutilsSettings()
    scan: ScanSettings = ScanSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    policy: PolicySettings = PolicySettings()
    review: ReviewSettings = ReviewSettings()
    #: Directory of the config file; relative paths in settings resolve against it.
    root: Path = Field(Path("."), exclude=True)

    @property
    def policy_dir(self) -> Path:
        if self.policy.dir is None:
            from .resources import shipped_path

            return shipped_path("policies").resolve()
        return (self.root / self.policy.dir).resolve()

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute against ``root``."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            path = url[len(prefix):]
            if path and path != ":memory:" and not path.startswith("file:"):
                return prefix + str((self.root / path).resolve())
        return url


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    section, key = dotted.split(".", 1)
    existing = data.get(section)
    if existing is None:
        existing = {}
    if not isinstance(existing, dict):
        raise ConfigError(f"config key {section!r} must be a table", key=section)
    data[section] = {**existing, key: value}


#: Settings that were renamed, so that an old config file gets a pointed message.
RENAMED = {"schedule.sweep_cron": "schedule.recheck_cron",
           "schedule.sweep_limit": "schedule.recheck_limit"}


def _describe(error: ValidationError, env_keys: Mapping[str, str]) -> ConfigError:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    where = f" (from {env_keys[key]})" if key in env_keys else ""
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown setting"
        if key in RENAMED:
            message += f" (renamed {RENAMED[key]})"
    return ConfigError(f"invalid config: {key}{where}: {message}", key=key)


def load_settings(path: str | Path | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Load ``config.toml`` (or ``path``) and apply environment overrides.

    A missing default ``config.toml`` gives the built-in defaults; a missing explicit path
    is an error.
    """
    environ = os.environ if environ is None else environ
    explicit = path is not None
    cfg_path = Path(path) if path is not None else Path("config.toml")
    data: dict[str, Any] = {}
    if cfg_path.exists():
        try:
            with cfg_path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid config: {cfg_path}: {exc}") from exc
    elif explicit:
        raise ConfigError(f"config file not found: {cfg_path}")
    env_keys: dict[str, str] = {}
    for var, dotted in ENV_OVERRIDES.items():
        value = environ.get(var)
        if value:
            _set_dotted(data, dotted, value)
            env_keys[dotted] = var
    data["root"] = cfg_path.resolve().parent
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, env_keys) from None
    eutils = settings.eutils
    if eutils.is_ncbi:
        allowed = NCBI_RATE_WITH_KEY if eutils.api_key else NCBI_RATE_NO_KEY
        rate = eutils.effective_rate
        if rate == 0 or rate > allowed:
            raise ConfigError(
                f"invalid config: eutils.requests_per_second: {rate:g} exceeds NCBI's limit "
                f"of {allowed:g}/s {'with' if eutils.api_key else 'without'} an API key",
                key="eutils.requests_per_second",
            )
    return settings
