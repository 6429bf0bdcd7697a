"""Sign-in with a name and password (Argon2), throttled per name, per address and name, and
per address; sign-out ends the server-side session. (Single sign-on: `sso.py`.)"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cellpath.console import auth
from cellpath.console.sso import refuse_sign_in
from cellpath.services import caseload, staff
from cellpath.services.base import Unreachable
from models.enums import AuditAction

if TYPE_CHECKING:
    from cellpath.console.app import Console


def signin_routes(
    app: FastAPI,
    console: Console,
    *,
    page: Callable[..., HTMLResponse],
    outage: Callable[[Request, str, Unreachable], Awaitable[HTMLResponse]],
    sso: bool,
) -> None:
    """`/login` (the form and its answer) and `/logout`; `sso`: offer single sign-on too."""

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/", changed: str = "") -> HTMLResponse:
        context = {"next": auth.safe_next(next), "sso": sso, "changed": bool(changed)}
        return page(request, "login.html", context)

    @app.post("/login", dependencies=[Depends(auth.check_csrf)])
    async def login(request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username", "")).strip()[:64]
        password = str(form.get("password", ""))
        target = auth.safe_next(str(form.get("next", "/")))
        address = request.client.host if request.client else "unknown"
        name = username.lower()
        keys = (f"name:{name}", f"address+name:{address}|{name}", f"address:{address}")
        s = console.session(username or "(no name)")
        wait = console.throttle.wait(*keys)
        if wait > 0:
            reason = "too many failed sign-ins"
            refuse_sign_in(s, reason, address)
            message = f"Too many failed sign-ins. Try again in {math.ceil(wait / 60)} minutes."
            context = {"next": target, "error": message, "sso": sso}
            return page(request, "login.html", context, 429)
        try:
            member = staff.check_password(s.case_store(), username, password)
        except Unreachable as e:
            return await outage(request, "", e)
        if member is None:
            console.throttle.failed(*keys)
            refuse_sign_in(s, "wrong name or password", address)
            context = {"next": target, "error": "Wrong name or password.", "sso": sso}
            return page(request, "login.html", context, 401)
        console.throttle.succeeded(keys[0])
        console.throttle.succeeded(keys[1])
        auth.start_session(request, member.actor, console.opened_store())
        caseload.audit_sign_in(s, AuditAction.SIGNED_IN, {"via": "password", "from": address})
        return RedirectResponse(target, status_code=303)

    @app.post("/logout", dependencies=[Depends(auth.check_csrf)])
    async def logout(request: Request) -> Response:
        who = request.session.get("actor")
        if who:
            caseload.audit_sign_in(console.session(str(who)), AuditAction.SIGNED_OUT, {})
        auth.end_session(request, console.opened_store())
        return RedirectResponse("/login", status_code=303)
