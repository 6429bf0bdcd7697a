"""One message on one channel, through Apprise.

E-mail is Apprise's `mailto://` plugin pointed at the SMTP server of `CELLPATH_SMTP_URL`; SMS
is the Apprise URL of `CELLPATH_SMS_URL` with the number filled in; a person's own URLs (Slack,
Teams, WeCom, Telegram, PagerDuty, JSON webhooks…) are used as they are. No channel client is
written here: Apprise is.

The e-mail `Message-ID` is derived from the notification's idempotency key, person and
channel, so a message sent twice across a crash (sent, then the worker died before the ledger
recorded it) is recognisably one message to the mail system and to the test that counts it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import ssl
import threading
from email import utils as email_utils
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

if TYPE_CHECKING:
    import apprise


# Apprise logs each message with its address ("Sent Email notification to …"): identifying
# details of staff and families must not reach the logs. Our own log lines say who (by actor
# or patient_ref) and which channel; Apprise's stay silent.
logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)


class ChannelError(Exception):
    """A channel refused or failed to take the message (retried with backoff)."""


class NotConfigured(ChannelError):
    """The channel cannot be used at all (no SMTP server, no SMS gateway, a bad URL)."""


def message_id(key: str, person: str, channel: str) -> str:
    """The e-mail Message-ID of one delivery: stable across retries and crashes."""
    digest = hashlib.sha256(f"{key}|{person}|{channel}".encode()).hexdigest()[:40]
    return f"<{digest}@cellpath>"


# Apprise's e-mail plugin mints its own Message-ID (email.utils.make_msgid) after any custom
# headers, so a custom one would be a second header. It is asked for ours instead, for the
# message being sent on this thread (the plugin is called on the calling thread, below).
_current = threading.local()
_mint = email_utils.make_msgid


def _our_msgid(idstring: str | None = None, domain: str | None = None) -> str:
    return getattr(_current, "message_id", None) or _mint(idstring, domain)


@functools.cache
def _verifying_context() -> ssl.SSLContext:
    """The process's default TLS context (system CA certificates, host names checked).

    Loading the CA certificates costs about 20 ms of CPU, which Apprise's SMTP controller
    would spend on every message (most of a send: 26 ms in all on a local server). An
    `SSLContext` is safe to share between threads for making connections; a CA bundle
    updated on disk is read at the next start of the process.
    """
    return ssl.create_default_context()


class _SharedTls:
    """The `ssl` module as Apprise's SMTP controller sees it: `create_default_context()` hands
    out the shared verifying context for a message sent by `send` on this thread with
    certificate checks on. Apprise changes the context it gets only to switch checks off
    (`verify=no`): those messages, and any caller that is not `send`, get a fresh one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)

    @staticmethod
    def create_default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        if args or kwargs or not getattr(_current, "verified_tls", False):
            return ssl.create_default_context(*args, **kwargs)
        return _verifying_context()


@functools.cache
def _apprise() -> type[apprise.Apprise]:
    """Apprise, imported on first use (it is slow to import, and most commands never send),
    with its e-mail plugin asking `_our_msgid` for the Message-ID and its SMTP controller
    reusing one TLS context (`_SharedTls`)."""
    import apprise
    import apprise.plugins.email.base as apprise_email

    apprise_email.make_msgid = _our_msgid  # type: ignore[attr-defined]
    try:
        import apprise.plugins.email.smtp as apprise_smtp
    except ImportError:  # another layout: each message builds its own context (slower)
        return apprise.Apprise
    if getattr(apprise_smtp, "ssl", None) is ssl:
        apprise_smtp.ssl = _SharedTls()  # type: ignore[attr-defined]
    return apprise.Apprise


def email_url(smtp_url: str, sender: str, to: str) -> str:
    """An Apprise `mailto://` URL sending to `to` through the SMTP server of `smtp_url`.

    `smtp://[user:password@]host:port[?starttls=true]` is plain SMTP (STARTTLS when asked);
    `smtps://` is implicit TLS.
    """
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise NotConfigured(
            "CELLPATH_SMTP_URL: expected smtp://[user:password@]host:port[?starttls=true]"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "").lower() in ("1", "true", "yes")
    if parts.scheme == "smtps":
        schema, mode = "mailtos", "ssl"
    elif starttls:
        schema, mode = "mailtos", "starttls"
    else:
        schema, mode = "mailto", "insecure"
    auth = ""
    if parts.username:
        auth = quote(parts.username, safe="")
        if parts.password:
            auth += ":" + quote(parts.password, safe="")
        auth += "@"
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    return (
        f"{schema}://{auth}{parts.hostname}:{port}?smtp={parts.hostname}&mode={mode}"
        f"&from={quote(sender, safe='@')}&to={quote(to, safe='@')}"
    )


def valid_url(url: str) -> bool:
    """Whether Apprise knows how to send to `url` (used when a contact is set)."""
    return _apprise().instantiate(url, suppress_exceptions=True) is not None


def send(
    url: str,
    *,
    subject: str,
    body: str,
    msg_id: str | None = None,
    attachments: list[tuple[str, bytes, str]] | None = None,
) -> None:
    """Send one message to one Apprise URL, on this thread; `ChannelError` if it failed.

    `attachments` are (file name, bytes, MIME type), sent from memory (Apprise's
    `AttachMemory`): nothing is written to disk."""
    plugin: Any = _apprise().instantiate(url, suppress_exceptions=True)
    if plugin is None:
        raise NotConfigured(f"not a usable channel URL ({scheme(url)}://…)")
    attach = None
    if attachments:
        import apprise
        from apprise.attachment.memory import AttachMemory

        attach = apprise.AppriseAttachment()
        for name, content, mimetype in attachments:
            attach.add(AttachMemory(content=content, name=name, mimetype=mimetype))
    _current.message_id = msg_id
    _current.verified_tls = getattr(plugin, "verify_certificate", False) is True
    try:
        ok = plugin.notify(body=body, title=subject, body_format="text", attach=attach)
    except Exception as e:
        # Named by type only: a plugin's message may hold the address or the URL's secrets,
        # and this text reaches Temporal's history as the activity's failure.
        raise ChannelError(f"{scheme(url)}: {type(e).__name__}") from None
    finally:
        _current.message_id = None
        _current.verified_tls = False
    if not ok:
        raise ChannelError(f"{scheme(url)}: the service did not accept the message")


def scheme(url: str) -> str:
    """A URL's scheme, for naming a channel without its secrets."""
    return url.split("://", 1)[0][:20] if "://" in url else "?"
