"""The coordinator console: a server-rendered web application for coordinators, physicians
and nurses (FastAPI, Jinja2, htmx served from this package).

It calls the same services as the CLI (`cellpath.services`), never a workflow directly.
`create_app()` builds it; `cellpath console` and `make run` serve it.
"""

from cellpath.console.app import create_app

__all__ = ["create_app"]
