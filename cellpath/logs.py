"""Logging configured once per entry point: structlog and stdlib through one pipeline.

`workflow.logger` and `activity.logger` are stdlib loggers; routing every stdlib record through
structlog's `ProcessorFormatter` makes them come out in the same format (console in development,
JSON otherwise) with their `extra` fields as fields.
"""

from __future__ import annotations

import logging
import sys
import traceback
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


def safe_traceback(error: BaseException) -> str:
    """A traceback that names where and what failed, never with what values.

    Exception messages and local variables are left out: a database error's message can hold
    the statement's values, a validation error the input, a frame's locals a patient's whole
    record. What remains (each exception's type and the frames, file, line and function)
    is enough to find the bug.
    """
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(f"{type(current).__module__}.{type(current).__qualname__} (message withheld)")
        for frame in traceback.extract_tb(current.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        current = current.__cause__ or current.__context__
        if current is not None:
            lines.append("raised while handling, or from:")
    return "\n".join(lines)


def print_safe_traceback(error: BaseException) -> None:
    """`safe_traceback` on standard error (the CLI's last resort for a bug)."""
    print("internal error: " + safe_traceback(error), file=sys.stderr)


def _scrub_exception(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Render a logged exception with `safe_traceback` (no messages, no locals)."""
    info = event.pop("exc_info", None)
    if info:
        error = info[1] if isinstance(info, tuple) else info
        if not isinstance(error, BaseException):
            error = sys.exc_info()[1]
        if isinstance(error, BaseException):
            event["exception"] = safe_traceback(error)
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
        # Before any renderer sees it: structlog's console renderer prints a traceback's
        # local variables, which can be a patient's record.
        _scrub_exception,
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
    # Alembic announces each of its plugins on every start (seven lines at `make run`); the
    # migrations it runs are still logged (`alembic.runtime.migration`).
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # The SDK's workflow/activity loggers also append their info dict to the message text;
    # it is already a structured field (`temporal_workflow`, `temporal_activity`).
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
