"""The cellpath worker: `create_worker()` registers every workflow and activity of the product.

Tests, the dev stack (`make run`) and `main()` all build their worker here, so what is tested
is what runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.journey import CalendarActivities, CaseStoreActivities, NotificationActivities
from activities.store import CaseStore
from settings import TASK_QUEUE, get_settings
from workflows import PatientJourney
from workflows.visibility import ALL_KEYS


def metrics_runtime(port: int) -> Runtime:
    """A Temporal runtime exposing Prometheus metrics on `0.0.0.0:port` (`/metrics`).

    The SDK's own metrics (task latencies, slots, sticky cache…) and cellpath's counters
    (`cellpath_*`, emitted through the workflow and activity metric meters) come out there.
    """
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{port}"))
    )


async def connect(
    address: str | None = None, namespace: str | None = None, runtime: Runtime | None = None
) -> Client:
    """A client with the product's data converter (pydantic) on `address`."""
    settings = get_settings()
    return await Client.connect(
        address or settings.temporal_address,
        namespace=namespace or settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
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


def create_worker(
    client: Client,
    *,
    task_queue: str = TASK_QUEUE,
    store: CaseStore | None = None,
    **overrides: Any,
) -> Worker:
    """A worker with every workflow and activity of cellpath registered.

    Args:
        client: a client built with the pydantic data converter (see `connect`).
        task_queue: the queue to poll (`patient-journeys` by default).
        store: the case store the activities write to; by default the settings' database.
        overrides: any other `Worker` argument (e.g. `activities=` with doubles in tests).
    """
    store = store or CaseStore.from_url(get_settings().database_url)
    case_store = CaseStoreActivities(store)
    notifications = NotificationActivities(store)
    calendar = CalendarActivities()
    options: dict[str, Any] = {
        "task_queue": task_queue,
        "workflows": [PatientJourney],
        "activities": [
            case_store.project_journey,
            case_store.record_audit,
            notifications.send_notifications,
            calendar.load_business_calendar,
        ],
        # The store's activities are synchronous (SQLAlchemy); they run on this pool.
        "activity_executor": concurrent.futures.ThreadPoolExecutor(max_workers=16),
    }
    options.update(overrides)
    return Worker(client, **options)


async def run_worker() -> None:
    """Connect and poll until cancelled (Ctrl-C / SIGTERM)."""
    settings = get_settings()
    log = structlog.get_logger("cellpath.worker")
    runtime = metrics_runtime(settings.metrics_port) if settings.metrics_port else None
    client = await connect(runtime=runtime)
    try:
        added = await ensure_search_attributes(client)
        if added:
            log.info("search_attributes_registered", added=added)
    except RPCError as e:
        # e.g. Temporal Cloud, or no operator permission: register them out of band.
        log.warning("search_attributes_not_registered", error=e.message)
    worker = create_worker(client, task_queue=settings.task_queue)
    log.info(
        "worker_started",
        address=settings.temporal_address,
        namespace=settings.temporal_namespace,
        task_queue=settings.task_queue,
        metrics_port=settings.metrics_port,
    )
    await worker.run()


def main() -> None:
    """Entry point: `python worker.py`."""
    from logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        asyncio.run(run_worker())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
