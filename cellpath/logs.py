"""Logging configured once per entry point: structlog and stdlib through one pipeline.

`workflow.logger` and `activity.logger` are stdlib loggers; routing every stdlib record through
structlog's `ProcessorFormatter` makes them come out in the same format (console in development,
JSON otherwise) with their `extra` fields as fields.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def temporal_fields(
    _logger: Any, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Lift the SDK's `temporal_workflow` / `temporal_activity` dicts into flat fields.

    Every workflow and activity record then carries `case_id`, `workflow_id`, `run_id` and
    (for activities) `activity_type` as fields a log search can filter on. The case id comes
    from the workflow id (`journey-{case_id}`), which is PHI-free by construction.
    """
    info = event.pop("temporal_workflow", None) or event.pop("temporal_activity", None)
    if isinstance(info, dict):
        event.setdefault("workflow_id", info.get("workflow_id"))
        event.setdefault("run_id", info.get("run_id") or info.get("workflow_run_id"))
        if "activity_type" in info:
            event.setdefault("activity_type", info["activity_type"])
        workflow_id = str(info.get("workflow_id") or "")
        if workflow_id.startswith("journey-"):
            event.setdefault("case_id", workflow_id.removeprefix("journey-"))
    return event


def configure_logging(fmt: str = "console", level: str = "INFO") -> None:
    """Set up structlog and the stdlib root logger (call once, at start-up)."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        temporal_fields,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The local SMTP server of `make run` (aiosmtpd) logs every recipient address at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    # The SDK's workflow/activity loggers also append their info dict to the message text;
    # it is already a structured field (`temporal_workflow`, `temporal_activity`).
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
