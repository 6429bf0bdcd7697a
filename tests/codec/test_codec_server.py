"""The codec server refuses what it must: no token, another origin, an oversized body."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from cellpath.codec import EncryptionCodec, KeyRing, new_key_entry
from cellpath.codec_server import create_app

TOKEN = "t0ken-for-tests"
UI = "http://localhost:8233"
LIMIT = 64 * 1024
CODEC = EncryptionCodec(KeyRing.parse(new_key_entry("k1")))
SECRET_VALUE = "Zebediah Quixote-Farnsworth"


def body(*payloads: Payload) -> dict:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


def client_for(app, host: str = "10.0.0.5") -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://codec")


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(CODEC, tokens=["old-token", TOKEN], ui_origin=UI, max_request_bytes=LIMIT)
    async with client_for(app) as c:
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_encode_then_decode_with_token(http: httpx.AsyncClient) -> None:
    encoded = await http.post("/encode", json=body(plain(SECRET_VALUE)), headers=AUTH)
    assert encoded.status_code == 200
    assert SECRET_VALUE not in encoded.text
    decoded = await http.post("/decode", json=encoded.json(), headers=AUTH | {"Origin": UI})
    assert decoded.status_code == 200
    assert decoded.headers["access-control-allow-origin"] == UI
    [payload] = json_format.ParseDict(decoded.json(), Payloads()).payloads
    assert payload == plain(SECRET_VALUE)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["no token", "wrong token", "not bearer"],
)
async def test_refuses_without_a_valid_token(http: httpx.AsyncClient, headers: dict) -> None:
    reply = await http.post("/decode", json=body(), headers=headers)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"


async def test_refuses_another_origin(http: httpx.AsyncClient) -> None:
    reply = await http.post(
        "/decode", json=body(), headers=AUTH | {"Origin": "https://evil.example"}
    )
    assert reply.status_code == 403
    assert UI in reply.json()["error"]
    preflight = await http.options(
        "/decode",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_preflight_from_the_ui_is_answered(http: httpx.AsyncClient) -> None:
    reply = await http.options(
        "/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == UI


async def test_refuses_oversized_bodies(http: httpx.AsyncClient) -> None:
    big = body(plain("x" * LIMIT))
    reply = await http.post("/encode", json=big, headers=AUTH)
    assert reply.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(LIMIT // 1024 + 2):
            yield b" " * 1024

    reply = await http.post("/encode", content=chunks(), headers=AUTH)
    assert reply.status_code == 413


async def test_bad_json_and_foreign_key_are_refused_by_name(http: httpx.AsyncClient) -> None:
    reply = await http.post("/decode", content=b"not json", headers=AUTH)
    assert reply.status_code == 400
    assert "payloads" in reply.json()["error"]
    other = EncryptionCodec(KeyRing.parse(new_key_entry("elsewhere")))
    [sealed] = await other.encode([plain(SECRET_VALUE)])
    reply = await http.post("/decode", json=body(sealed), headers=AUTH)
    assert reply.status_code == 422
    assert "'elsewhere'" in reply.json()["error"]


async def test_local_ui_trust_is_loopback_and_ui_origin_only() -> None:
    app = create_app(CODEC, tokens=[], ui_origin=UI, max_request_bytes=LIMIT, trust_local_ui=True)
    async with client_for(app, host="127.0.0.1") as local:
        assert (await local.post("/decode", json=body(), headers={"Origin": UI})).status_code == 200
        assert (await local.post("/decode", json=body())).status_code == 401
    async with client_for(app, host="10.0.0.5") as remote:
        assert (
            await remote.post("/decode", json=body(), headers={"Origin": UI})
        ).status_code == 401


async def test_payload_contents_are_never_logged(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    encoded = await http.post("/encode", json=body(plain(SECRET_VALUE)), headers=AUTH)
    await http.post("/decode", json=encoded.json(), headers=AUTH)
    await http.post("/decode", json=encoded.json(), headers={"Origin": "https://x.example"})
    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "codec_encode" in logged and "codec_refused" in logged  # it does log, just not data
    assert SECRET_VALUE not in logged
    assert encoded.json()["payloads"][0]["data"] not in logged


def sealed(key_id: bytes, data: bytes) -> Payload:
    return Payload(
        metadata={"encoding": b"binary/encrypted", "encryption-key-id": key_id}, data=data
    )


@pytest.mark.parametrize(
    ("request_body", "reason"),
    [
        ([], "no list of payloads"),
        ({"payloads": {}}, "no list of payloads"),
        ("not json at all", "not JSON"),
        (body(sealed(b"\xff\xfe", b"x" * 40)), "key id is not UTF-8"),
        (body(sealed(b"k1", b"short")), "is 5 bytes"),
    ],
    ids=["array", "payloads-not-a-list", "not-json", "key-id-not-utf8", "data-too-short"],
)
async def test_malformed_requests_are_refused_with_400_and_a_reason(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, request_body, reason: str
) -> None:
    """Never a 500 with a traceback: a bad request is the caller's, and says what is wrong."""
    caplog.set_level(logging.WARNING)
    if isinstance(request_body, str):
        response = await http.post("/decode", content=request_body, headers=AUTH)
    else:
        response = await http.post("/decode", json=request_body, headers=AUTH)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert "Traceback" not in caplog.text
