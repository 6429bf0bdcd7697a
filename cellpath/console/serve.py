"""Serving the console: `cellpath console` (alone) and `make run` (with the dev stack)."""

from __future__ import annotations

from urllib.parse import urlsplit

import uvicorn

from cellpath.config import Settings, get_settings
from cellpath.console.app import create_app


def address(settings: Settings) -> tuple[str, int]:
    """Where to listen: `console_bind` (else the console URL's host) and the URL's port."""
    url = urlsplit(settings.console_url)
    host = settings.console_bind or url.hostname or "127.0.0.1"
    port = url.port or (443 if url.scheme == "https" else 80)
    return ("127.0.0.1" if host == "localhost" else host), port


def server(settings: Settings | None = None, **app_kwargs: object) -> uvicorn.Server:
    """A uvicorn server for the console (started by the caller: `await server.serve()`)."""
    settings = settings or get_settings()
    host, port = address(settings)
    app = create_app(settings, **app_kwargs)  # type: ignore[arg-type]
    trusted = settings.console_trusted_proxies.strip()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # The process's own logging (structlog, tracebacks without values), not uvicorn's.
        log_config=None,
        # Forwarded headers only from configured proxies (uvicorn trusts loopback by default).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        # No "server: uvicorn": nothing tells a visitor what to look up vulnerabilities for.
        server_header=False,
    )
    return uvicorn.Server(config)


def main() -> None:
    """Serve the console until interrupted."""
    from cellpath.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    server(settings).run()
