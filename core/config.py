"""Typed settings: the one place that reads the environment (`NARCIS_*` and `.env`).

Each entry point calls `load_settings()` once and passes the object down.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

ENV_PREFIX = "NARCIS_"
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S*$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")

Dtype = Literal["auto", "float32", "float16", "bfloat16"]
# Anyone can sign a cookie with a key that is in the source: fine on loopback only.
DEFAULT_SECRET_KEY = "change-me-in-production"


class Settings(BaseSettings):
    """Everything configurable, with defaults that work on one machine."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Path("var")
    models_dir: Path | None = None  # default: <data_dir>/models
    database_url: str | None = None  # default: SQLite file in the data dir
    redis_url: str = "redis://127.0.0.1:6379/0"
    device: str = "auto"
    dtype: Dtype = "auto"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    discord_token: SecretStr | None = None
    discord_guild_id: int | None = None  # development: sync commands to this guild only
    discord_operator_role: str = "operators"  # the role's name, as shown in messages
    # Rights are checked by the role's id (unique across Discord), never by its name: any guild
    # can have a role called "operators". Unset: nobody has operator rights.
    discord_operator_role_id: int | None = None
    discord_queue_cap: int = 8  # a user's portraits in flight at once (/portrait and buttons)
    # media: a local folder under the data dir unless an S3 bucket is named
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    # `narcis models download`: where the weights come from (a mirror may stand in)
    hub_url: str = "https://huggingface.co"
    buffalo_url: str = (  # where insightface itself fetches its model packs from
        "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip"
    )
    # the site
    site_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "*.localhost")
    site_https: bool = False  # secure cookies; on behind TLS in production
    site_uploads_per_minute: int = 6
    # New guests or accounts (each brings its five free tokens) per client address and day
    site_free_starts_per_day: int = 10
    # Peers whose X-Forwarded-For is believed (addresses or networks: the load balancer); from
    # anyone else the header is ignored and the peer is the client
    site_proxies: tuple[str, ...] = ()
    # Where the public reaches the site: absolute URLs (og:image, share links) are built from
    # it, never from a request's Host header
    site_origin: str = "http://127.0.0.1:8000"
    retention_days: int = 7  # reference photos are purged after this
    # the workbench (operators only: set a password unless it listens on loopback)
    workbench_user: str = "operator"
    workbench_password: SecretStr | None = None
    # the worker
    compile: bool = False  # torch.compile the UNet once (GPU hosts: minutes at start, then faster)
    worker_grace_s: int = 60  # on SIGTERM: finish the current job within this, else hand it back
    job_heartbeat_s: int = 30  # a running job's lease: not renewed this long, its worker is dead
    job_timeout_s: int = 900  # an attempt running longer stops and counts as failed
    reaper_interval_s: float = 10.0  # how often a worker reconciles the queue with the database
    metrics_port: int = 9101  # Prometheus metrics over HTTP; 0 turns them off
    portrait_size: int = 1024  # stage-1 side for jobs made from an idea
    portrait_steps: int = 20  # steps per stage for jobs made from an idea
    # No face in stage 1's picture after its retries: paint one where the composition puts the
    # head (the framing prior). Off: such a job fails, with that reason shown.
    place_face: bool = True

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError(f"unknown device {value!r} (expected auto, cpu, mps, cuda or cuda:N)")
        return value

    @field_validator("redis_url", "llm_base_url", "database_url", "s3_endpoint_url")
    @classmethod
    def _looks_like_url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError(f"malformed URL {value!r} (expected scheme://…)")
        return value

    @field_validator("site_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network") from None
        return value

    @field_validator("site_origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not _ORIGIN.match(value):
            raise ValueError(f"{value!r} is not an origin (expected https://name[:port])")
        return value.lower()

    @field_validator("data_dir")
    @classmethod
    def _writable(cls, value: Path) -> Path:
        _ensure_writable(value)
        return value

    @property
    def models_path(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def media_path(self) -> Path:
        return self.data_dir / "media"

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'narcis.db').resolve()}"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: addresses no other machine can reach."""
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_real_secret(settings: Settings, *hosts: str) -> None:
    """Refuse to face other machines with the published default key: `hosts` are the address
    listened on and the names answered (a site on loopback behind a proxy is public too)."""
    public = [h for h in hosts if not is_loopback(h.removeprefix("*."))]
    if settings.secret_key.get_secret_value() == DEFAULT_SECRET_KEY and public:
        raise ConfigError(
            f"{ENV_PREFIX}SECRET_KEY is the built-in default, which anyone can use to forge a "
            f"session: set it to a long random value (`openssl rand -hex 32`) before serving "
            f"{public[0]}"
        )


def _ensure_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create {str(path)!r}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{str(path)!r} is not writable")


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning the first invalid value into one line naming its variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}: {message}") from None
