"""The cellpath worker: `create_worker()` registers every workflow and activity of the product.

Tests, the dev stack (`make run`) and `main()` all build their worker here, so what is tested
is what runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.journey import CalendarActivities, CaseStoreActivities, NotificationActivities
from activities.store import CaseStore
from settings import TASK_QUEUE, get_settings
from workflows import PatientJourney


async def connect(address: str | None = None, namespace: str | None = None) -> Client:
    """A client with the product's data converter (pydantic) on `address`."""
    settings = get_settings()
    return await Client.connect(
        address or settings.temporal_address,
        namespace=namespace or settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


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
    client = await connect()
    worker = create_worker(client, task_queue=settings.task_queue)
    log.info(
        "worker_started",
        address=settings.temporal_address,
        namespace=settings.temporal_namespace,
        task_queue=settings.task_queue,
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
