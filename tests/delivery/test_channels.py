"""E-mail through Apprise reuses one verifying TLS context per process (loading the CA
certificates was most of the cost of a send), and never shares one whose checks are off."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cellpath.delivery import channels


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def plain_smtp() -> Iterator[tuple[int, Inbox]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield port, inbox
    server.stop()


@pytest.fixture
def contexts_built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ssl.SSLContext]]:
    """Every TLS context the `ssl` module builds while the test runs."""
    channels._apprise()  # Apprise's SMTP controller sees `_SharedTls` from now on
    channels._verifying_context.cache_clear()
    built: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    yield built
    channels._verifying_context.cache_clear()


def test_messages_share_one_verifying_tls_context(plain_smtp, contexts_built):
    port, inbox = plain_smtp
    url = channels.email_url(f"smtp://127.0.0.1:{port}", "cellpath@example.org", "a@example.org")
    for i in range(3):
        channels.send(url, subject=f"s{i}", body="b", msg_id=f"<{i}@cellpath>")
    assert [m["Subject"] for m in inbox.messages] == ["s0", "s1", "s2"]
    assert len(contexts_built) == 1, "one context for three messages"
    shared = contexts_built[0]
    assert shared.verify_mode is ssl.CERT_REQUIRED and shared.check_hostname


def test_a_url_without_certificate_checks_gets_a_context_of_its_own(plain_smtp, contexts_built):
    port, inbox = plain_smtp
    url = channels.email_url(f"smtp://127.0.0.1:{port}", "cellpath@example.org", "a@example.org")
    channels.send(url, subject="checked", body="b")
    channels.send(url + "&verify=no", subject="unchecked", body="b")
    channels.send(url + "&verify=no", subject="unchecked again", body="b")
    channels.send(url, subject="checked again", body="b")
    assert len(inbox.messages) == 4
    shared, *own = contexts_built
    assert len(own) == 2, "each unverified message built its own"
    assert all(c.verify_mode is ssl.CERT_NONE for c in own)
    assert shared.verify_mode is ssl.CERT_REQUIRED and shared.check_hostname, "never changed"


def test_a_context_asked_for_outside_a_send_is_a_fresh_one(contexts_built):
    import apprise.plugins.email.smtp as apprise_smtp

    seen_by_apprise = apprise_smtp.ssl
    assert isinstance(seen_by_apprise, channels._SharedTls)
    first, second = (seen_by_apprise.create_default_context() for _ in range(2))
    assert first is not second and contexts_built == [first, second]
    assert seen_by_apprise.CERT_NONE is ssl.CERT_NONE, "the rest of the module as it is"
