"""Who is signed in, and the guards around it: the session cookie, CSRF, sign-in throttling.

- The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure on https). It
  holds the actor id, a CSRF token and when the person signed in; it ends after
  `console_idle_minutes` without a request (the cookie's age is renewed on each response)
  and `console_session_hours` after signing in, whatever happens.
- Every POST carries the session's CSRF token (a hidden `csrf_token` field, or htmx's
  `X-CSRF-Token` header); without it the request is refused with 403 before anything runs.
- Failed sign-ins are counted per name, per address and name, and per address; past
  `console_sign_in_attempts` within the window (ten times as many for an address alone: a
  ward's shared workstation), sign-in is refused (429) until the oldest failure leaves the
  window.
- The cookie also carries the id of a session held in the case store: signing out, or a new
  password, ends it there, so a copied cookie stops working.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from fastapi import Request
from starlette.exceptions import HTTPException

from cellpath.config import Settings
from cellpath.store import CaseStore

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """No valid session: the page sends the person to the sign-in form."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use, also before signing in)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def check_csrf(request: Request) -> None:
    """Refuse (403) a POST whose CSRF token is missing or is not the session's."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise HTTPException(403, "this form has expired or did not come from cellpath; reload")


def signed_in(request: Request, settings: Settings, store: CaseStore | None = None) -> str:
    """The signed-in actor, or `SignInRequired` (no session, a session past its hours, or
    one ended on the server: signed out, or the password changed since)."""
    actor = request.session.get("actor")
    since = request.session.get("since", 0)
    sid = request.session.get("sid")
    if not actor:
        raise SignInRequired
    if time.time() - float(since) > settings.console_session_hours * 3600:
        request.session.clear()
        raise SignInRequired
    # Without the store no session can be checked: nobody is taken as signed in.
    if store is None or not (sid and store.console_session_open(str(sid), str(actor))):
        request.session.clear()
        raise SignInRequired
    return str(actor)


def start_session(request: Request, actor: str, store: CaseStore | None = None) -> None:
    """A new session for `actor`: whatever was in the cookie before is dropped (no fixation),
    with a fresh CSRF token, recorded server-side (`store`) so that it can be ended there."""
    request.session.clear()
    sid = store.open_console_session(actor) if store is not None else None
    request.session.update(
        {"actor": actor, "since": time.time(), "csrf": secrets.token_urlsafe(32), "sid": sid}
    )


def end_session(request: Request, store: CaseStore | None = None) -> None:
    """Sign out: the server-side session ends too (a copied cookie is worth nothing)."""
    sid = request.session.get("sid")
    if store is not None and sid:
        store.end_console_session(str(sid))
    request.session.clear()


@dataclass
class Throttle:
    """Failed sign-ins per key (a name, an address) in a sliding window, in this process.

    One console process per deployment is the design (README, "The console"); behind several,
    each counts its own, so the limit is per process.
    """

    attempts: int
    window_seconds: float
    failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self.failures[key]
        while q and now - q[0] > self.window_seconds:
            q.popleft()
        return q

    # An address alone is allowed this many times more failures: a ward's shared
    # workstation must not lock every nurse out because one name was mistyped.
    address_factor: int = 10

    def _limit(self, key: str) -> int:
        return self.attempts * self.address_factor if key.startswith("address:") else self.attempts

    def wait(self, *keys: str) -> float:
        """Seconds until a sign-in under these keys is allowed again (0: now)."""
        now = time.monotonic()
        waits = [
            self.window_seconds - (now - q[0])
            for k, q in ((k, self._recent(k, now)) for k in keys)
            if len(q) >= self._limit(k)
        ]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        """Count a failed sign-in under each key."""
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, name_key: str) -> None:
        """Forget a name's failures once they signed in (the address keeps its count)."""
        self.failures.pop(name_key, None)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another origin)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
