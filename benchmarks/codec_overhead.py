"""What payload encryption costs, against the JSON conversion every payload already pays.

Takes every payload of the stored 15-year CAR-T histories (`tests/histories/search-attributes/`:
journey inputs carrying the whole timeline, milestones, activity batches, query-sized
results…), and times, in this process and on the same payloads:

- baseline: the pydantic converter turning each payload back into Python values and again
  into a payload (what a worker does with every payload it touches);
- codec: AES-256-GCM encrypting and decrypting the same payloads.

Prints bytes, times and the ratios codec / baseline (time) and encrypted / plain (size).

    .venv/bin/python benchmarks/codec_overhead.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from google.protobuf import json_format  # noqa: E402
from temporalio.api.common.v1 import Payload  # noqa: E402
from temporalio.client import WorkflowHistory  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from cellpath.codec import EncryptionCodec, KeyRing, new_key_entry  # noqa: E402

HISTORIES = ROOT / "tests" / "histories" / "search-attributes"


def payloads_of(node: object, out: list[Payload]) -> None:
    if isinstance(node, dict):
        if "data" in node and "metadata" in node:
            out.append(json_format.ParseDict(node, Payload(), ignore_unknown_fields=True))
            return
        for value in node.values():
            payloads_of(value, out)
    elif isinstance(node, list):
        for item in node:
            payloads_of(item, out)


def load() -> list[Payload]:
    found: list[Payload] = []
    for path in sorted(HISTORIES.glob("*.json.gz")):
        history = WorkflowHistory.from_json(path.stem, gzip.decompress(path.read_bytes()).decode())
        for event in history.events:
            payloads_of(json_format.MessageToDict(event), found)
    return found


async def main(rounds: int) -> None:
    payloads = load()
    plain_bytes = sum(p.ByteSize() for p in payloads)
    converter = pydantic_data_converter.payload_converter
    codec = EncryptionCodec(KeyRing.parse(new_key_entry("bench")))

    started = time.perf_counter()
    for _ in range(rounds):
        values = converter.from_payloads(payloads)
        converter.to_payloads(values)
    baseline = (time.perf_counter() - started) / rounds

    started = time.perf_counter()
    for _ in range(rounds):
        sealed = await codec.encode(payloads)
        await codec.decode(sealed)
    encrypted = (time.perf_counter() - started) / rounds
    sealed_bytes = sum(p.ByteSize() for p in sealed)

    print(f"payloads: {len(payloads)} from {len(list(HISTORIES.glob('*.json.gz')))} histories,")
    print(f"          {plain_bytes / 1024:.0f} KiB plain, {sealed_bytes / 1024:.0f} KiB encrypted")
    print(f"baseline (JSON → values → JSON): {baseline * 1000:.1f} ms per pass")
    print(f"codec (encrypt + decrypt):       {encrypted * 1000:.1f} ms per pass")
    print(f"ratio time codec / baseline:     {encrypted / baseline:.2f}")
    print(f"ratio size encrypted / plain:    {sealed_bytes / plain_bytes:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args().rounds))
