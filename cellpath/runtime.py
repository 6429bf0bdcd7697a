"""The worker's composition: `create_worker()` registers every workflow and activity.

Tests, the dev stack (`make run`) and `main()` all build their worker here, so what is tested
is what runs. `worker.py` at the top is the entry point (and keeps these names importable).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.delivery import DeliveryActivities, DeliveryStarter
from activities.dispatcher import Dispatcher
from activities.journey import CalendarActivities, CaseStoreActivities, NotificationActivities
from cellpath.codec import EncryptionCodec
from cellpath.config import TASK_QUEUE, Settings, get_settings
from cellpath.connection import connect, temporal_target
from cellpath.store import CaseStore
from workflows import DeliverNotification, PatientJourney
from workflows.visibility import ALL_KEYS


def metrics_runtime(port: int, host: str = "127.0.0.1") -> Runtime:
    """A Temporal runtime exposing Prometheus metrics on `host:port` (`/metrics`).

    Loopback unless told (`CELLPATH_METRICS_HOST`): the endpoint has no authentication, and
    what it says (queues, rates, refusals) is for the operators' scraper only.

    The SDK's own metrics (task latencies, slots, sticky cache…) and cellpath's counters
    (`cellpath_*`, emitted through the workflow and activity metric meters) come out there.
    """
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}"))
    )


class SearchAttributeConflict(RuntimeError):
    """A search attribute of ours exists on the server with another type."""


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register cellpath's search attributes on the client's namespace; returns those added.

    Works on any server that offers the operator service: the dev server, the time-skipping
    test server (which knows no custom attribute until told), a self-hosted cluster. Temporal
    Cloud registers attributes through `tcld` or its UI instead. Idempotent: attributes already
    there with the right type are left alone.

    Raises:
        SearchAttributeConflict: an attribute exists with a different type.
    """
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        existing = dict(listed.custom_attributes)
    except RPCError as e:
        # The time-skipping test server cannot list attributes, only add them.
        if e.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = {}
    name = IndexedValueType.Name
    conflicts = [
        f"{k.name} is {name(existing[k.name])}, expected {name(k.indexed_value_type)}"
        for k in ALL_KEYS
        if k.name in existing and existing[k.name] != k.indexed_value_type
    ]
    if conflicts:
        raise SearchAttributeConflict("; ".join(conflicts))
    missing = {k.name: k.indexed_value_type for k in ALL_KEYS if k.name not in existing}
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
        except RPCError as e:
            # Another worker registered them first (or a server that cannot list them had them).
            if e.status is not RPCStatusCode.ALREADY_EXISTS:
                raise
            return []
    return sorted(missing)


def lenient_client(client: Client) -> Client:
    """The client a worker polls with: its codec hands on payloads it cannot open, marked,
    instead of failing the workflow task for ever (a message sealed with a key this worker
    lacks is then refused by the journey, naming the key)."""
    converter = client.data_converter
    codec = converter.payload_codec
    if not isinstance(codec, EncryptionCodec) or codec.lenient:
        return client
    config = client.config()
    config["data_converter"] = dataclasses.replace(converter, payload_codec=codec.for_worker())
    return Client(**config)


def create_worker(
    client: Client,
    *,
    task_queue: str = TASK_QUEUE,
    store: CaseStore | None = None,
    settings: Settings | None = None,
    deliver: bool | None = None,
    **overrides: Any,
) -> Worker:
    """A worker with every workflow and activity of cellpath registered.

    Args:
        client: a client from `connection.connect` (the product's data converter).
        task_queue: the queue to poll (`patient-journeys` by default).
        store: the case store the activities write to; by default the settings' database.
        settings: tuning (concurrency, sticky cache, graceful shutdown); by default the
            process's settings.
        deliver: deliver every notification written (at once, or by `DeliverNotification`);
            by default the settings' `delivery_enabled`. Tests of other things turn it off.
        overrides: any other `Worker` argument (e.g. `activities=` with doubles in tests).
    """
    settings = settings or get_settings()
    store = store or CaseStore.from_url(settings.database_url)
    client = lenient_client(client)
    compile_workflows()
    delivery = DeliveryActivities(store, settings)
    starter = None
    if settings.delivery_enabled if deliver is None else deliver:
        starter = DeliveryStarter(
            settings.delivery_tuning(),
            direct=delivery if settings.delivery_direct else None,
            direct_seconds=settings.delivery_direct_seconds,
            pause_seconds=settings.delivery_direct_pause_seconds,
        )
    case_store = CaseStoreActivities(store, delivery=starter)
    notifications = NotificationActivities(store, delivery=starter)
    calendar = CalendarActivities()
    options: dict[str, Any] = {
        "task_queue": task_queue,
        "workflows": [PatientJourney, DeliverNotification],
        "activities": [
            case_store.write_journey,
            case_store.project_journey,
            case_store.record_audit,
            notifications.send_notifications,
            calendar.load_business_calendar,
            delivery.resolve_recipients,
            delivery.send_message,
            delivery.record_delivery_event,
        ],
        # The store's activities are synchronous (SQLAlchemy); they run on this pool, one
        # thread per activity slot, so a slot never waits for a thread.
        "activity_executor": concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.worker_max_concurrent_activities
        ),
        "max_concurrent_activities": settings.worker_max_concurrent_activities,
        "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "graceful_shutdown_timeout": timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        "sticky_queue_schedule_to_start_timeout": timedelta(
            seconds=settings.worker_sticky_timeout_seconds
        ),
    }
    options.update(overrides)
    return Worker(client, **options)


def create_dispatcher(
    client: Client,
    *,
    task_queue: str = TASK_QUEUE,
    store: CaseStore | None = None,
    settings: Settings | None = None,
) -> Dispatcher:
    """The dispatcher of the scheduled outbox, delivering as `create_worker`'s writes do
    (`run` it beside the worker, with an event that stops it)."""
    settings = settings or get_settings()
    store = store or CaseStore.from_url(settings.database_url)
    # Its slow path starts each notification's workflow (the fast one is its own).
    starter = DeliveryStarter(settings.delivery_tuning())
    delivery = DeliveryActivities(store, settings)
    runtime = client.service_client.config.runtime
    delivery.meter = (runtime or Runtime.default()).metric_meter
    return Dispatcher(
        store,
        delivery,
        starter,
        lenient_client(client),
        task_queue,
        interval=settings.dispatch_interval_seconds,
        send_seconds=settings.delivery_direct_seconds,
        pause_seconds=settings.delivery_direct_pause_seconds,
    )


def compile_workflows() -> None:
    """Byte-compile the workflow modules, once per process.

    The workflow sandbox imports them afresh for every workflow instance it creates (a
    journey started, or evicted from the cache and replayed). Without bytecode on disk — a
    checkout run with PYTHONDONTWRITEBYTECODE, as on the CI machines — that import compiles
    their source every time, a third of a new journey's first task. Installed packages carry
    bytecode already (pip compiles it); where the folder is read-only nothing is written.
    """
    import compileall

    import workflows

    compileall.compile_dir(Path(workflows.__file__).parent, quiet=2)


async def run_worker(stop: asyncio.Event | None = None) -> None:
    """Connect and poll until `stop` is set, SIGTERM or SIGINT arrives.

    Shutdown is graceful: polling stops at once, running activities get
    `worker_graceful_shutdown_seconds` to finish, and workflow tasks in flight complete. Another
    worker (or this one, restarted) picks up everything else from the task queue: nothing a
    journey waits for lives in this process.
    """
    settings = get_settings()
    log = structlog.get_logger("cellpath.worker")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = (
        metrics_runtime(settings.metrics_port, settings.metrics_host)
        if settings.metrics_port
        else None
    )
    target = temporal_target()
    client = await connect(runtime=runtime)
    try:
        added = await ensure_search_attributes(client)
        if added:
            log.info("search_attributes_registered", added=added)
    except RPCError as e:
        # e.g. Temporal Cloud, or no operator permission: register them out of band.
        log.warning("search_attributes_not_registered", error=e.message)
    worker = create_worker(client, task_queue=settings.task_queue, settings=settings)
    dispatching = None
    if settings.delivery_enabled and settings.dispatcher_enabled:
        dispatcher = create_dispatcher(client, task_queue=settings.task_queue, settings=settings)
        dispatching = asyncio.create_task(dispatcher.run(stop))
    watch = None
    if runtime is not None:
        from cellpath.services.doctor import report_stuck

        watch = asyncio.create_task(report_stuck(client, runtime.metric_meter))
    async with worker:
        log.info(
            "worker_started",
            address=target.address,
            namespace=target.namespace,
            tls=target.tls,
            task_queue=settings.task_queue,
            encrypted=client.data_converter.payload_codec is not None,
            metrics_port=settings.metrics_port,
        )
        await stop.wait()
        log.info("worker_stopping", graceful_seconds=settings.worker_graceful_shutdown_seconds)
        if watch is not None:
            watch.cancel()
        if dispatching is not None:
            await dispatching  # its round ends; what it claimed is sent or left to retake
    log.info("worker_stopped")


def main() -> None:
    """Entry point: `python worker.py` (or `cellpath worker`)."""
    from cellpath.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(run_worker())
