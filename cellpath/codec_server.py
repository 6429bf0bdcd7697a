"""The codec server: lets the Temporal UI and CLI show encrypted journeys to those allowed.

`POST /encode` and `POST /decode` take and return Temporal's codec JSON
(`{"payloads": [{"metadata": {...}, "data": "..."}]}`, bytes as base64), the shape the UI's
"codec endpoint" and `temporal … --codec-endpoint` speak. Guards, in order:

1. **Origin**: a browser request from any origin but the configured UI's is refused (403);
   CORS pre-flight answers only that origin. Requests with no `Origin` (the CLI) pass on.
2. **Size**: a body over `codec_max_request_bytes` is refused (413) before it is read whole.
3. **Token**: `Authorization: Bearer <token>` must match one of `CELLPATH_CODEC_TOKENS` (401
   otherwise). The UI forwards its user's token when `TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true`;
   the CLI sends one with `--codec-auth "Bearer …"`.

Payload contents are never logged: log lines name the route, the payload count and the
outcome. `make run` starts this server with `trust_local_ui` (see `create_app`), because the
dev server's UI has no login and so has no token to forward.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Sequence

import structlog
import uvicorn
from cryptography.exceptions import InvalidTag
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads

from cellpath.codec import EncryptionCodec, MalformedPayloadError, UnknownKeyError
from cellpath.config import Settings, get_settings
from cellpath.connection import key_ring

log = structlog.get_logger("cellpath.codec_server")

Handler = Callable[[Request], Awaitable[Response]]


def _refuse(status: int, reason: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers or None)


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def create_app(
    codec: EncryptionCodec,
    *,
    tokens: Sequence[str],
    ui_origin: str,
    max_request_bytes: int,
    trust_local_ui: bool = False,
) -> FastAPI:
    """The codec server's ASGI app.

    Args:
        codec: the same codec the workers use (same key ring).
        tokens: accepted bearer tokens; several so they can rotate without downtime.
        ui_origin: the Temporal UI's origin (scheme://host:port), the only browser origin served.
        max_request_bytes: larger bodies are refused with 413.
        trust_local_ui: development only — accept requests without a token when they come from
            the loopback interface *and* carry the UI's origin (the dev server's UI cannot send
            one). Never set in a deployment: any local process can claim that origin.
    """
    accepted = [t.encode() for t in tokens if t]
    ui_origin = ui_origin.rstrip("/")
    app = FastAPI(title="cellpath codec server", docs_url=None, redoc_url=None, openapi_url=None)

    def authorised(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            # Compare against every token in constant time: timing tells nothing.
            matches = [hmac.compare_digest(token.encode(), t) for t in accepted]
            if any(matches):
                return True
        origin = request.headers.get("origin")
        return trust_local_ui and origin == ui_origin and _is_loopback(request)

    @app.middleware("http")
    async def guard(request: Request, call_next: Handler) -> Response:
        """Origin, size and token checks for every route (pre-flight is answered by CORS)."""
        if request.method == "OPTIONS":
            return await call_next(request)
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") != ui_origin:
            log.warning("codec_refused", reason="origin", path=request.url.path)
            return _refuse(403, f"origin not allowed; expected {ui_origin}")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_request_bytes):
            log.warning("codec_refused", reason="too_large", path=request.url.path)
            return _refuse(413, f"request body over {max_request_bytes} bytes")
        if not authorised(request):
            log.warning("codec_refused", reason="unauthenticated", path=request.url.path)
            return _refuse(401, "a bearer token is required", **{"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    # Added after the guard so it wraps it: pre-flight gets its answer before any check.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[ui_origin],
        allow_methods=["POST"],
        allow_headers=["authorization", "content-type", "x-namespace"],
        allow_credentials=True,
        max_age=600,
    )

    async def read_payloads(request: Request) -> Payloads | JSONResponse:
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            # Chunked uploads have no Content-Length: count as they arrive.
            if len(body) > max_request_bytes:
                return _refuse(413, f"request body over {max_request_bytes} bytes")
        expected = 'expected JSON {"payloads": [{"metadata": {…}, "data": "…"}]}'
        try:
            shape = json.loads(bytes(body))
        except (ValueError, RecursionError):
            return _refuse(400, f"the body is not JSON; {expected}")
        if not isinstance(shape, dict) or not isinstance(shape.get("payloads", []), list):
            return _refuse(400, f"the body has no list of payloads; {expected}")
        try:
            return json_format.Parse(bytes(body), Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, DecodeError, UnicodeDecodeError):
            return _refuse(400, expected)

    def reply(payloads: Sequence[object]) -> JSONResponse:
        out = Payloads(payloads=payloads)  # type: ignore[arg-type]
        return JSONResponse(json_format.MessageToDict(out))

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        """Encrypt payloads with the active key (for the UI's signal/start forms and the CLI)."""
        payloads = await read_payloads(request)
        if isinstance(payloads, JSONResponse):
            return payloads
        encoded = await codec.encode(payloads.payloads)
        log.info("codec_encode", count=len(encoded))
        return reply(encoded)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        """Decrypt payloads with the key each one names."""
        payloads = await read_payloads(request)
        if isinstance(payloads, JSONResponse):
            return payloads
        try:
            decoded = await codec.decode(payloads.payloads)
        except UnknownKeyError as e:
            log.warning("codec_decode_failed", reason="unknown_key")
            return _refuse(422, str(e))
        except MalformedPayloadError as e:
            log.warning("codec_decode_failed", reason="malformed")
            return _refuse(400, f"{e}; expected payloads this codec encrypted")
        except (InvalidTag, DecodeError):
            log.warning("codec_decode_failed", reason="integrity")
            return _refuse(422, "a payload failed its integrity check (tampered or wrong key)")
        log.info("codec_decode", count=len(decoded))
        return reply(decoded)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness for orchestrators; needs a token like everything else."""
        return {"status": "ok", "active_key": codec.active_key_id}

    return app


def app_from_settings(settings: Settings, *, trust_local_ui: bool = False) -> FastAPI:
    """The app configured from `CELLPATH_*` settings; refuses to start half-configured."""
    ring = key_ring(settings)
    if ring is None:
        raise SystemExit(
            "codec server: no encryption keys; set CELLPATH_ENCRYPTION_KEYS or "
            "CELLPATH_ENCRYPTION_KEY_FILE"
        )
    tokens = (
        [t.strip() for t in settings.codec_tokens.get_secret_value().split(",") if t.strip()]
        if settings.codec_tokens
        else []
    )
    if not tokens and not trust_local_ui:
        raise SystemExit("codec server: set CELLPATH_CODEC_TOKENS (comma-separated bearer tokens)")
    return create_app(
        EncryptionCodec(ring),
        tokens=tokens,
        ui_origin=settings.codec_ui_origin,
        max_request_bytes=settings.codec_max_request_bytes,
        trust_local_ui=trust_local_ui,
    )


def main() -> None:
    """Entry point: `python codec_server.py` (or `cellpath codec-server`)."""
    from cellpath.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    app = app_from_settings(settings)
    # access_log off: uvicorn's access line is harmless, but ours say the same without noise.
    uvicorn.run(app, host=settings.codec_host, port=settings.codec_port, access_log=False)


if __name__ == "__main__":
    main()
