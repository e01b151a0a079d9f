"""Every knob of photobot, read once from the environment and `.env`.

One pydantic-settings class so that docs/configuration.md's table can be generated from it and
never drift. Values that only one command needs (the bot token, Drive credentials) are optional here
and checked by the command that needs them, so `Settings()` loads with nothing but REDIS_URL.
How a value is parsed and checked lives in photobot.settings_types; neither imports anything else
of the project.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from photobot.settings_types import (
    ChunkBytes,
    IdList,
    KeyPrefix,
    OptionalPath,
    OptionalText,
    PublicUrl,
    RedisUrl,
    TierQuotas,
    Tiers,
    parse_quotas,
    parse_tiers,
)

__all__ = ["Settings", "SettingsError", "load_settings", "parse_quotas", "parse_tiers"]


class SettingsError(Exception):
    """A configuration value is missing or invalid; the message is one line for the operator."""


class Settings(BaseSettings):
    """photobot's configuration. The docstring under each field is its description, and becomes its
    row of the table in docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        use_attribute_docstrings=True,
    )

    # --- Redis and the queue -------------------------------------------------------------------
    redis_url: RedisUrl = None
    """Redis URL (redis://, rediss://, unix://). Unset: an embedded redis-server with append-only persistence
    under DATA_DIR."""
    redis_cluster: bool = False
    """Treat REDIS_URL as a Redis Cluster node."""
    data_dir: Path = Path("data")
    """Where embedded Redis, local storage and logs live."""
    queue_prefix: KeyPrefix = "photobot"
    """Name in the Redis Cluster hash tag that prefixes every key: {photobot}:job:<id>."""
    concurrent_jobs: int = Field(3, ge=1, le=1000)
    """Jobs one process works on at once."""
    max_attempts: int = Field(5, ge=1, le=100)
    """Attempts before a job is failed."""
    retry_base_seconds: float = Field(2.0, gt=0)
    """First retry delay; doubles each attempt."""
    retry_max_seconds: float = Field(300.0, gt=0)
    """Upper bound of a retry delay."""
    lease_seconds: float = Field(30.0, gt=0)
    """How long a leased job stays a worker's without a heartbeat."""
    aging_seconds: float = Field(60.0, gt=0)
    """Each such wait lifts a pending job above all tiers, so none starves."""
    max_pending_per_user: int = Field(20, ge=1)
    """Unfinished jobs one user may have; more are refused."""
    tiers: Tiers = Field(default_factory=lambda: {"free": 0, "premium": 10, "admin": 20})
    """Tiers as name=priority pairs; a higher priority is served first."""
    default_tier: str = "free"
    """Tier of a user nobody has assigned one."""
    tier_quotas: TierQuotas = Field(default_factory=lambda: {"free": 30, "premium": 500, "admin": None})
    """Photos per rolling 24 hours per tier, as name=count pairs; 'unlimited' (or a tier left out) has no
    limit; names that are not TIERS are left out of the default. Counted when a job is queued; a cancelled
    job, or one that failed on photobot's side, gives its photo back."""
    dedup_ttl_seconds: int = Field(86400, ge=1)
    """How long a repeated update is recognised as the same job."""
    job_retention_seconds: int = Field(7 * 86400, ge=60)
    """How long finished jobs are kept for /jobs and the API."""
    max_metadata_bytes: int = Field(4096, ge=0)
    """Size cap of a job's metadata as JSON."""
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    """On SIGTERM, how long in-flight jobs may finish before leases go back."""

    # --- Logging -------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level."""
    log_format: Literal["auto", "json", "console"] = "auto"
    """json, console, or auto (console on a terminal, JSON otherwise)."""
    log_file: OptionalPath = None
    """Rotating log file; unset: DATA_DIR/logs/photobot.log. 'none' disables it."""

    # --- Processing ----------------------------------------------------------------------------
    process_workers: int = Field(0, ge=0, le=64)
    """Processes for image work; 0 means one per CPU core."""
    max_image_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    """Largest accepted file."""
    max_image_pixels: int = Field(50_000_000, ge=1)
    """Largest accepted image, in pixels (decompression bombs)."""
    max_image_memory_mb: int = Field(512, ge=16)
    """Memory one image may need: its decode (pixels x bytes per pixel of its mode) plus the operation's
    working copies; a larger one is refused before decoding."""
    max_jpeg_scans: int = Field(100, ge=1)
    """Most scans a JPEG may have (a progressive photo has about ten)."""
    process_memory_mb: int = Field(1536, ge=0)
    """Address-space cap (RLIMIT_AS) of each processing process, so a file that needs more fails its job
    instead of the machine; 0: no cap."""
    result_max_side: int = Field(2560, ge=64, le=10000)
    """Longest side of a result image, in pixels."""
    photo_result_max_side: int = Field(1280, ge=64, le=10000)
    """Longest side of a result sent as a photo (Telegram shows and keeps photos at 1280 px); results sent as
    files keep RESULT_MAX_SIDE."""
    jpeg_quality: int = Field(85, ge=30, le=100)
    """JPEG quality of results."""
    face_model_path: OptionalPath = None
    """An operator's own YuNet ONNX face model; unset: CenterFace, installed into the venv by `python -m
    photobot.processing.face_model`."""
    process_timeout_seconds: float = Field(60.0, gt=0)
    """Time cap of one operation."""

    # --- Storage -------------------------------------------------------------------------------
    file_retention_seconds: int = Field(7 * 86400, ge=60)
    """How long originals and results are kept after they were stored; then they are deleted (a file whose job
    still waits or runs is kept until the job ends)."""
    retention_sweep_seconds: float = Field(300.0, gt=0)
    """How often a worker process deletes expired and orphaned files."""
    user_storage_mb: int = Field(1024, ge=0)
    """Storage one user's originals and results may take; photos past it are refused until older files expire
    or /forget deletes them. 0: no budget."""
    storage_backend: Literal["local", "gdrive"] = "local"
    """local or gdrive."""
    storage_dir: OptionalPath = None
    """Local storage folder; unset: DATA_DIR/storage."""
    gdrive_credentials_file: OptionalPath = None
    """Service-account JSON key."""
    gdrive_token_file: OptionalPath = None
    """OAuth user token file (authorized_user)."""
    gdrive_folder_id: OptionalText = None
    """Drive folder (or shared drive) that holds photobot's files."""
    gdrive_api_url: OptionalText = None
    """Root URL of a Drive-compatible server; unset: Google's."""
    gdrive_threads: int = Field(4, ge=1, le=64)
    """Threads for Drive calls."""
    gdrive_chunk_bytes: ChunkBytes = Field(8 * 1024 * 1024, ge=256 * 1024)
    """Resumable upload chunk (a multiple of 256 KiB)."""
    gdrive_resumable_threshold: int = Field(5 * 1024 * 1024, ge=0)
    """Files larger than this are uploaded resumably."""
    gdrive_max_retries: int = Field(6, ge=0, le=20)
    """Retries of a Drive call on 429/5xx."""

    # --- Telegram ------------------------------------------------------------------------------
    bot_token: SecretStr | None = None
    """Telegram bot token from @BotFather."""
    telegram_api_url: str = "https://api.telegram.org"
    """Bot API server base URL (e.g. a local telegram-bot-api)."""
    telegram_proxy: str | None = None
    """Proxy for the Bot API (http://host:port); unset: a direct connection."""
    admin_ids: IdList = Field(default_factory=list)
    """Telegram user ids of admins, comma-separated."""
    webhook_url: OptionalText = None
    """Public URL for webhook mode; unset: long polling."""
    webhook_secret: SecretStr | None = None
    """Checked against X-Telegram-Bot-Api-Secret-Token in webhook mode."""
    webhook_path: str = "/telegram/webhook"
    """Path of the webhook route."""
    default_language: Literal["en", "ru"] = "en"
    """Language when a user's is unknown."""
    flood_limit: int = Field(10, ge=1)
    """Photos one user may send per FLOOD_WINDOW_SECONDS."""
    flood_window_seconds: float = Field(60.0, gt=0)
    """Window of the flood limit."""
    state_ttl_seconds: int = Field(3600, ge=60)
    """How long a photo waits for its operation to be chosen."""
    tg_global_rate: float = Field(30.0, gt=0)
    """Outgoing Telegram messages per second."""
    tg_chat_rate: float = Field(1.0, gt=0)
    """Outgoing messages per second to one chat."""
    tg_chat_burst: int = Field(3, ge=1)
    """Short burst allowed to one chat."""
    tg_group_per_minute: int = Field(20, ge=1)
    """Outgoing messages per minute to one group."""
    downloads_in_flight: int = Field(8, ge=1)
    """Files one process downloads from the chat platforms at once; more senders wait their turn, so memory
    stays near DOWNLOADS_IN_FLIGHT x MAX_DOWNLOAD_BYTES."""
    max_download_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    """Largest file the bot downloads (Bot API limit: 20 MB)."""

    # --- VK --------------------------------------------------------------------------------------
    vk_token: SecretStr | None = None
    """VK community access token."""
    vk_group_id: int | None = None
    """VK community id."""
    vk_api_url: str = "https://api.vk.com/method"
    """VK API base URL."""
    vk_admin_ids: IdList = Field(default_factory=list)
    """VK user ids of admins, comma-separated."""
    vk_rate: float = Field(20.0, gt=0)
    """VK API requests per second."""

    # --- Premium (Telegram Stars) ------------------------------------------------------------------
    premium_tier: str = "premium"
    """The tier that paid or granted premium gives while it lasts; when TIERS has no such tier (and this is
    left at its default), premium is off."""
    premium_price_stars: int = Field(100, ge=0, le=10000)
    """Price of PREMIUM_DAYS of premium in Telegram Stars (XTR); 0: premium is not sold."""
    premium_days: int = Field(30, ge=1, le=3650)
    """Days of premium one payment buys."""
    premium_subscription: bool = True
    """Also offer a monthly Stars subscription (renews every 30 days until cancelled); it is offered only when
    PREMIUM_DAYS is 30, the period Telegram subscriptions have."""
    pay_support: str = Field(
        "Write to the bot's admins in this chat; refunds are made with /refund by an admin.", max_length=1000
    )
    """What /paysupport answers (who handles payment questions and how); Telegram's terms for Stars payments
    require the command."""

    # --- HTTP --------------------------------------------------------------------------------------
    http_enabled: bool = True
    """Serve /healthz, /metrics and the API."""
    http_host: str = "127.0.0.1"
    """HTTP listen address (0.0.0.0 in a container)."""
    http_port: int = Field(8080, ge=0, le=65535)
    """HTTP listen port."""
    api_rate_limit: int = Field(300, ge=0)
    """API requests one token may make per API_RATE_WINDOW_SECONDS; 0: no limit."""
    api_rate_window_seconds: float = Field(60.0, gt=0)
    """Window of API_RATE_LIMIT."""
    token_ttl_seconds: int = Field(86400, ge=60)
    """Lifetime of an API session token."""
    public_url: PublicUrl = None
    """Base URL at which users reach the HTTP API (e.g. https://bot.example.com); /token's answer shows it in
    its example."""

    @model_validator(mode="after")
    def _check_cross_fields(self) -> Settings:
        if self.default_tier not in self.tiers:
            raise ValueError(f"DEFAULT_TIER {self.default_tier!r} is not one of TIERS")
        # The defaults name free, premium and admin; with TIERS of other names they step aside
        # (no quota for a tier they do not name, no premium), while a value set by the operator
        # that names no tier is a mistake said at start.
        unknown = sorted(set(self.tier_quotas) - set(self.tiers))
        if unknown and "tier_quotas" in self.model_fields_set:
            raise ValueError(f"TIER_QUOTAS names {unknown[0]!r}, which is not one of TIERS")
        self.tier_quotas = {name: n for name, n in self.tier_quotas.items() if name in self.tiers}
        if self.premium_tier not in self.tiers and "premium_tier" in self.model_fields_set:
            raise ValueError(f"PREMIUM_TIER {self.premium_tier!r} is not one of TIERS")
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("RETRY_MAX_SECONDS must not be below RETRY_BASE_SECONDS")
        return self

    # --- Derived values ------------------------------------------------------------------------
    @property
    def key_prefix(self) -> str:
        """Prefix of every Redis key, with the hash tag that keeps them in one cluster slot."""
        return "{" + self.queue_prefix + "}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir if self.storage_dir is not None else self.data_dir / "storage"

    @property
    def resolved_log_file(self) -> Path | None:
        if self.log_file is not None and str(self.log_file).lower() == "none":
            return None
        return self.log_file if self.log_file is not None else self.data_dir / "logs" / "photobot.log"

    @property
    def resolved_process_workers(self) -> int:
        return self.process_workers or os.cpu_count() or 1

    def tier_priority(self, tier: str) -> int:
        """Priority of a tier name; unknown names raise KeyError."""
        return self.tiers[tier]

    def tier_quota(self, tier: str) -> int | None:
        """Photos per rolling 24 hours of a tier; None: no limit."""
        return self.tier_quotas.get(tier)

    @property
    def premium_for_sale(self) -> bool:
        return self.premium_price_stars > 0 and self.premium_enabled

    @property
    def premium_enabled(self) -> bool:
        """PREMIUM_TIER is one of TIERS (with TIERS of other names and no PREMIUM_TIER, it is not)."""
        return self.premium_tier in self.tiers

    def is_admin(self, platform: str, user_id: int | str) -> bool:
        ids = self.admin_ids if platform == "telegram" else self.vk_admin_ids
        try:
            return int(user_id) in ids
        except (TypeError, ValueError):
            return False

    def require_bot_token(self) -> str:
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise SettingsError("BOT_TOKEN: is not set; get one from @BotFather and put it in .env")
        return self.bot_token.get_secret_value().strip()

    def require_vk_group_id(self) -> int:
        if self.vk_group_id is None or self.vk_group_id <= 0:
            raise SettingsError("VK_GROUP_ID: is required with VK_TOKEN (the community's numeric id)")
        return self.vk_group_id

    @property
    def telegram_enabled(self) -> bool:
        return self.bot_token is not None and bool(self.bot_token.get_secret_value().strip())

    @property
    def vk_enabled(self) -> bool:
        return self.vk_token is not None and bool(self.vk_token.get_secret_value().strip())

    def require_vk_token(self) -> str:
        if not self.vk_enabled:
            raise SettingsError("VK_TOKEN: is not set; create a community token and put it in .env")
        assert self.vk_token is not None
        return self.vk_token.get_secret_value().strip()


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    location = "".join(str(part) for part in first["loc"][:1]).upper() or "configuration"
    message = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    secret = location.endswith(("TOKEN", "SECRET")) or isinstance(value, dict)
    shown = "" if secret else f" (got {value!r})"
    return f"{location}: {message}{shown}"


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning a validation error into a one-line SettingsError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None
