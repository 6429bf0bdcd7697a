"""Reading a Temporal history as text, the way a person with cluster access could.

`raw_text` is what the server holds (base64 payloads decoded to bytes, nothing decrypted):
what anyone with the Temporal UI, CLI or database sees without the codec. `decoded_text` also
runs each payload through the codec, as the UI does with the codec server: the scan for PHI
must come up empty even there.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec


def _payload_text(p: Payload) -> str:
    meta = " ".join(f"{k}={v.decode('utf-8', 'replace')}" for k, v in p.metadata.items())
    return f"{meta} {p.data.decode('utf-8', 'replace')}"


async def _walk(node: Any, parts: list[str], codec: PayloadCodec | None) -> None:
    if isinstance(node, dict):
        if "data" in node and "metadata" in node:
            payload = json_format.ParseDict(node, Payload(), ignore_unknown_fields=True)
            if codec is not None:
                [payload] = await codec.decode([payload])
            parts.append(_payload_text(payload))
            return
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                parts.append(base64.b64decode(value).decode("utf-8", "replace"))
            else:
                await _walk(value, parts, codec)
    elif isinstance(node, list):
        for item in node:
            await _walk(item, parts, codec)
    else:
        parts.append(str(node))


async def message_text(message: Message, codec: PayloadCodec | None) -> str:
    """Every field and payload of one protobuf message as text, decrypted with `codec`."""
    parts: list[str] = []
    await _walk(json_format.MessageToDict(message), parts, codec)
    return "\n".join(parts)


async def decoded_text(history: WorkflowHistory, codec: PayloadCodec | None) -> str:
    """Every field and payload of a history as text, payloads decrypted with `codec`."""
    return "\n".join([await message_text(event, codec) for event in history.events])


async def raw_text(history: WorkflowHistory) -> str:
    """Every field and payload of a history as text, as stored (nothing decrypted)."""
    return await decoded_text(history, None)
