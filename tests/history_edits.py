"""Edits of recorded histories: decrypted for storage, or made into what a worker may see.

`decrypted`: a history recorded with payload encryption, with every payload opened, so it can
be kept in `tests/histories/` and replayed without the (throw-away) key.

`merge_command_less_task`: a worker that picks a journey up cold sometimes delivers the events
of a command-less workflow task (an activity completion) in the same activation as the next
task's update (sdk-rust#1146); replaying the recorded history delivers them apart. This builds
the history as that worker saw it — the activity completion moved into the update's task, the
command-less task removed — so a test can check the journey issues the same commands either
way.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory

from cellpath.codec import ENCODING, EncryptionCodec

TASK_DONE = "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"
ACTIVITY = ("EVENT_TYPE_ACTIVITY_TASK_STARTED", "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")


def renumber(history: dict[str, Any], order: list[dict[str, Any]]) -> dict[str, Any]:
    """`order`'s events numbered 1…n, every `…EventId` reference following its event."""
    mapping = {int(e["eventId"]): n for n, e in enumerate(order, start=1)}

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: str(mapping[int(v)])
                if k.endswith("EventId")
                and isinstance(v, str)
                and v.isdigit()
                and int(v) in mapping
                else fix(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [fix(x) for x in node]
        return node

    events = [{**fix(e), "eventId": str(n)} for n, e in enumerate(order, start=1)]
    return {**history, "events": events}


def merge_command_less_task(history: WorkflowHistory) -> WorkflowHistory:
    """The first update's task with the command-less task before it merged in (see above).

    Raises:
        LookupError: the history has no command-less task with an activity completion right
            before an update's task.
    """
    doc = json.loads(history.to_json())
    events = doc["events"]
    kind = [e["eventType"] for e in events]
    for i, k in enumerate(kind):
        if k != "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            continue
        update_task = i - 1
        tasks = [n for n in range(update_task) if kind[n] == TASK_DONE]
        if kind[update_task] != TASK_DONE or len(tasks) < 2:
            continue
        empty, before = tasks[-1], tasks[-2]
        # Command-less: nothing but workflow-task events between it and the update's task.
        if any(not x.startswith("EVENT_TYPE_WORKFLOW_TASK_") for x in kind[empty + 1 : i - 1]):
            continue
        moved = [e for e in events[before + 1 : empty] if e["eventType"] in ACTIVITY]
        if ACTIVITY[1] not in [e["eventType"] for e in moved]:
            continue
        done = events[empty]["workflowTaskCompletedEventAttributes"]
        dropped = {done["scheduledEventId"], done["startedEventId"], events[empty]["eventId"]}
        keep = [e for e in events if e not in moved and e["eventId"] not in dropped]
        scheduled = events[update_task]["workflowTaskCompletedEventAttributes"]["scheduledEventId"]
        at = next(n for n, e in enumerate(keep) if e["eventId"] == scheduled)
        merged = renumber(doc, keep[:at] + moved + keep[at:])
        return WorkflowHistory.from_json(history.workflow_id, json.dumps(merged))
    raise LookupError("no command-less task with an activity completion before an update")


def decrypted(history: WorkflowHistory, codec: EncryptionCodec) -> WorkflowHistory:
    """`history` with every encrypted payload replaced by its plain form."""
    sealed = base64.b64encode(ENCODING).decode()

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            meta = node.get("metadata")
            if isinstance(meta, dict) and meta.get("encoding") == sealed and "data" in node:
                payload = Payload(
                    metadata={k: base64.b64decode(v) for k, v in meta.items()},
                    data=base64.b64decode(node["data"]),
                )
                plain = codec.decrypt(payload)
                return {
                    "metadata": {
                        k: base64.b64encode(v).decode() for k, v in plain.metadata.items()
                    },
                    "data": base64.b64encode(plain.data).decode(),
                }
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node

    doc = walk(json.loads(history.to_json()))
    return WorkflowHistory.from_json(history.workflow_id, json.dumps(doc))
