"""Sign-in through an OpenID Connect provider (Authlib): a small provider served on a port —
discovery, authorize, token, keys — issuing RS256-signed ID tokens, and the console's
authorization-code flow against it, state and nonce checked by Authlib."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

from cellpath.config import Settings
from cellpath.console import create_app
from cellpath.store import STAFF_AUDIT, CaseStore
from tests.console.conftest import free_port

CLIENT_ID, CLIENT_SECRET = "cellpath-console", "provider-secret"


class Provider:
    """An OpenID Connect provider that signs in whoever `next_user` names."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.codes: dict[str, str] = {}  # code → nonce
        self.next_user = "coord-ui"
        self.app = FastAPI()
        self.app.get("/.well-known/openid-configuration")(self.discovery)
        self.app.get("/authorize")(self.authorize)
        self.app.post("/token")(self.token)
        self.app.get("/jwks")(self.jwks)

    async def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.base,
            "authorization_endpoint": f"{self.base}/authorize",
            "token_endpoint": f"{self.base}/token",
            "jwks_uri": f"{self.base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    async def authorize(self, request: Request) -> RedirectResponse:
        q = request.query_params
        assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
        code = secrets.token_urlsafe(8)
        self.codes[code] = q["nonce"]
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request, code: str = Form(...)) -> dict[str, Any]:
        assert request.headers.get("authorization", "").startswith("Basic ")
        now = int(time.time())
        claims = {
            "iss": self.base,
            "aud": CLIENT_ID,
            "sub": f"sub-{self.next_user}",
            "preferred_username": self.next_user,
            "nonce": self.codes.pop(code),
            "iat": now,
            "exp": now + 300,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        return {
            "access_token": "at",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    async def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}


@pytest_asyncio.fixture(loop_scope="session")
async def provider() -> AsyncIterator[Provider]:
    port = free_port()
    p = Provider(f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(p.app, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn says so by a flag only)
        await asyncio.sleep(0.02)
    yield p
    server.should_exit = True
    await task


def console_app(provider: Provider, store: CaseStore) -> httpx.ASGITransport:
    """The console, configured for the provider, on an in-process transport."""
    settings = Settings(
        console_url="http://testserver",
        database_url=str(store.engine.url),
        oidc_issuer=provider.base,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
    )
    return httpx.ASGITransport(create_app(settings, store=store))


async def sign_in_through(provider: Provider, store: CaseStore) -> httpx.Response:
    """Follow the whole flow: console → provider → console's callback."""
    transport = console_app(provider, store)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as console,
        httpx.AsyncClient() as browser,
    ):
        login = await console.get("/login")
        assert "Sign in with your organisation" in login.text
        to_provider = await console.get("/login/sso")
        assert to_provider.status_code == 302
        query = parse_qs(urlsplit(to_provider.headers["location"]).query)
        assert query["scope"] == ["openid email profile"] and query["nonce"]
        back = await browser.get(to_provider.headers["location"])
        callback = urlsplit(back.headers["location"])
        done = await console.get(f"{callback.path}?{callback.query}")
        if done.status_code == 303:
            done = await console.get("/intake")  # signed in: the intake form is theirs
        return done


async def test_a_registered_member_signs_in_through_the_provider(
    provider: Provider, console_store: CaseStore
) -> None:
    provider.next_user = "coord-ui"
    reply = await sign_in_through(provider, console_store)
    assert (
        reply.status_code == 200
        and 'Signed in as <a href="/me"><strong>coord-ui</strong></a>' in reply.text
    )
    last = [r for r in console_store.audit_trail(STAFF_AUDIT) if r.action == "signed_in"][-1]
    assert (last.actor, last.detail) == ("coord-ui", {"via": "sso"})


async def test_someone_the_provider_knows_but_cellpath_does_not_is_refused(
    provider: Provider, console_store: CaseStore
) -> None:
    provider.next_user = "stranger"
    reply = await sign_in_through(provider, console_store)
    assert reply.status_code == 403 and "not registered in cellpath" in reply.text
    refused = [r for r in console_store.audit_trail(STAFF_AUDIT) if r.action == "refused:sign_in"]
    assert (refused[-1].actor, refused[-1].reason) == ("stranger", "not a registered staff member")


@pytest.mark.parametrize("forged", ["state", "nonce"])
async def test_a_forged_state_or_token_signs_nobody_in(
    provider: Provider, console_store: CaseStore, forged: str
) -> None:
    provider.next_user = "coord-ui"
    if forged == "nonce":
        original = provider.token

        async def wrong_nonce(request: Request, code: str = Form(...)) -> dict[str, Any]:
            provider.codes[code] = "not-the-nonce-sent"
            return await original(request, code)

        provider.app.router.routes = [
            r for r in provider.app.router.routes if getattr(r, "path", "") != "/token"
        ]
        provider.app.post("/token")(wrong_nonce)
    transport = console_app(provider, console_store)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as console,
        httpx.AsyncClient() as browser,
    ):
        to_provider = await console.get("/login/sso")
        back = await browser.get(to_provider.headers["location"])
        callback = urlsplit(back.headers["location"])
        query = callback.query
        if forged == "state":
            query = query.replace("state=", "state=forged")
        reply = await console.get(f"{callback.path}?{query}")
        assert reply.status_code in (400, 401, 403)
        assert (await console.get("/intake")).status_code == 303  # still signed out
