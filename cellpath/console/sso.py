"""Sign-in through an OpenID Connect provider (Authlib): the client, its two routes, and the
audit of a refused sign-in (shared with the password form)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from cellpath.config import Settings
from cellpath.console import auth
from cellpath.services import caseload
from cellpath.services.base import Session
from models.enums import AuditAction

if TYPE_CHECKING:
    from cellpath.console.app import Console


def refuse_sign_in(s: Session, reason: str, address: str) -> None:
    from cellpath.services.authority import record_refusal

    record_refusal(s, "staff", "sign_in", None, reason, detail={"from": address})


def oidc(settings: Settings) -> Any:
    """The OpenID Connect client (Authlib), when an issuer is configured; else None."""
    if not (settings.oidc_issuer and settings.oidc_client_id):
        return None
    from authlib.deprecate import AuthlibDeprecationWarning

    with warnings.catch_warnings():
        # Authlib warns, on import, about its own httpx shim (nothing we call); its module
        # `deprecate`, imported first, sets these warnings to "always", so ignore after it.
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        "sso",
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=(
            settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        ),
        client_kwargs={"scope": "openid email profile"},
    )
    return oauth.sso


def sso_routes(app: FastAPI, console: Console, sso: Any) -> None:
    """Sign-in through the OpenID Connect provider: the claim `oidc_actor_claim` names the
    staff member, who must be registered (a stranger is refused and audited)."""

    @app.get("/login/sso")
    async def sso_start(request: Request) -> Response:
        redirect: Response = await sso.authorize_redirect(
            request, str(request.url_for("sso_callback"))
        )
        return redirect

    @app.get("/login/sso/callback", name="sso_callback")
    async def sso_callback(request: Request) -> Response:
        import httpx
        from authlib.integrations.base_client.errors import OAuthError
        from joserfc.errors import JoseError

        try:
            token = await sso.authorize_access_token(request)
        except httpx.HTTPError as e:
            raise HTTPException(503, f"the sign-in provider could not be reached: {e}") from None
        except (OAuthError, JoseError) as e:
            # A state that is not this browser's, a token whose nonce, issuer, audience or
            # signature does not check out: nobody is signed in.
            refuse_sign_in(console.session("(sso)"), f"provider sign-in failed: {e}", "sso")
            raise HTTPException(
                403, "signing in through the provider failed; start again"
            ) from None
        claims = token.get("userinfo") or {}
        who = str(claims.get(console.settings.oidc_actor_claim, ""))[:64]
        s = console.session(who or "(no claim)")
        if not who or s.case_store().member(who) is None:
            refuse_sign_in(s, "not a registered staff member", "sso")
            raise HTTPException(403, "you are not registered in cellpath; ask an administrator")
        auth.start_session(request, who, console.opened_store())
        caseload.audit_sign_in(s, AuditAction.SIGNED_IN, {"via": "sso"})
        return RedirectResponse("/", status_code=303)
