"""Real parts for delivery tests: an SMTP server (aiosmtpd) and a JSON webhook (http.server)
in this process, a case store with a directory, and a worker that delivers."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from email.header import decode_header, make_header
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from cellpath.config import Settings
from cellpath.runtime import create_worker
from cellpath.store import CaseStore
from cellpath.store.directory import Directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subject(m: Message) -> str:
    """A message's subject, decoded."""
    return str(make_header(decode_header(m["Subject"] or "")))


def body(m: Message) -> str:
    """A message's text, decoded (the first text part of a multipart one)."""
    for part in m.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8")
    return ""


class Mailbox(MessageHandler):
    """Every message the SMTP server received."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def handle_message(self, message: Message) -> None:
        self.messages.append(message)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in (m["To"] or "")]


class SmtpServer:
    """An aiosmtpd server that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class Webhook:
    """A JSON webhook (Apprise's json://) that keeps every body it received."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                text = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                hook.raw.append(text)
                hook.bodies.append(json.loads(text))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"


@pytest.fixture(scope="package")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture(scope="package")
def delivery_settings(smtp: SmtpServer) -> Settings:
    # Quick retries, so a channel that comes back is used again within the test; at most
    # every 10 s, so a channel down for minutes of skipped time (the pager test's six) costs
    # dozens of attempts, not hundreds, each of them real time on a loaded machine.
    return Settings(
        smtp_url=SecretStr(smtp.url),
        mail_from="cellpath@example.org",
        delivery_enabled=True,
        delivery_retry_seconds=1.0,
        delivery_max_interval_seconds=10.0,
        # A direct send that fails (a test's channel that is down) must not send the next
        # tests' notifications to workflows; the pause is tested with a starter of its own.
        delivery_direct_pause_seconds=0.0,
    )


@pytest.fixture(scope="package")
def store(tmp_path_factory: pytest.TempPathFactory) -> CaseStore:
    """A case store of the delivery tests' own: the staff, rotas and webhooks they set up must
    not reach other tests' journeys (a lead coordinator "everywhere" would)."""
    return CaseStore.from_url(f"sqlite:///{tmp_path_factory.mktemp('delivery') / 'case.db'}")


@pytest.fixture(scope="package")
def directory(store: CaseStore) -> Directory:
    return Directory(store)


@pytest.fixture(scope="package")
def delivery_queue() -> str:
    return f"delivery-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def delivering_worker(
    env: WorkflowEnvironment, store: CaseStore, delivery_settings: Settings, delivery_queue: str
) -> AsyncIterator[None]:
    """The product's worker with delivery on, on its own queue."""
    async with create_worker(
        env.client,
        task_queue=delivery_queue,
        store=store,
        settings=delivery_settings,
        deliver=True,
    ):
        yield


@pytest_asyncio.fixture(loop_scope="session")
async def ended(env: WorkflowEnvironment) -> AsyncIterator[list[str]]:
    """Workflow ids a test started; terminated when it ends, so that no journey is left with
    timers on a queue whose worker is gone (the time-skipping server would wait for it)."""
    ids: list[str] = []
    yield ids
    for workflow_id in ids:
        with contextlib.suppress(Exception):
            await env.client.get_workflow_handle(workflow_id).terminate("test over")
