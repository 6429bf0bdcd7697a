"""The reader's language in the console: chosen for each request, switched in the header.

Each request reads in one language (`i18n.reading`): the one the person chose with the
header's switch (kept in their session), else their directory contact's (`cellpath contacts
set … --language zh-Hans`), else the browser's `Accept-Language`, else English. Templates get
Jinja2's i18n extension with `i18n.gettext`; dates and numbers follow the locale (Babel).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment

from cellpath.console import auth, i18n
from cellpath.store.directory import Directory


def install(env: Environment) -> None:
    """Jinja2's i18n extension, speaking the request's language (`_`, `{% trans %}`)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=False
    )
    env.globals.update(
        language=i18n.current,
        html_lang=lambda: i18n.HTML_LANG[i18n.current()],
        STAFF_LANGUAGES=i18n.STAFF_LANGUAGES,
    )


def language_routes(app: FastAPI, console: Any) -> None:
    """The middleware that picks each request's language, and the header's switch.

    Added before the session middleware, so it runs inside it (the session is readable)."""

    @app.middleware("http")
    async def reader_language(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/static/"):  # no words, and no store lookup
            return await call_next(request)  # type: ignore[no-any-return]
        chosen = request.session.get("lang") if "session" in request.scope else None
        directory = None
        actor = request.session.get("actor") if "session" in request.scope else None
        store = console.opened_store() if actor and not chosen else None
        if store is not None:
            contact = Directory(store).contact(str(actor))
            directory = contact.language if contact is not None else None
        language = i18n.choose(chosen, directory, request.headers.get("accept-language"))
        with i18n.reading(language):
            response: Response = await call_next(request)
        response.headers.setdefault("Content-Language", i18n.HTML_LANG[language])
        return response

    @app.post("/language", dependencies=[Depends(auth.check_csrf)])
    async def switch(request: Request) -> Response:
        form = await request.form()
        language = i18n.staff_language(str(form.get("language", "")))
        if language is not None:
            request.session["lang"] = language
        # Back where the switch was pressed (this site only), else the worklist.
        back = urlsplit(str(form.get("back", "") or "/"))
        target = back.path if back.path.startswith("/") and not back.netloc else "/"
        return RedirectResponse(target + (f"?{back.query}" if back.query else ""), 303)
