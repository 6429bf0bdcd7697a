"""`cellpath`: the command line of coordinators, physicians, nurses and operators.

Commands parse what was typed, call the services (`cellpath.services`: the same the console
calls), print the answer and map the outcome to the contract's exit codes: 0 done · 1 refused
(the reason on stderr, nothing changed) · 2 usage or connection error. They never reach
Temporal or the case store themselves.
"""

from __future__ import annotations

import contextlib
import os
import sys

from pydantic import ValidationError

# Importing the command modules registers their commands on `app`.
from cellpath.cli import (  # noqa: F401
    access,
    bedside,
    capacity,
    directory,
    finance,
    handover,
    journeys,
    operators,
    records,
    report,
    status,
)
from cellpath.cli.common import app, err
from cellpath.logs import print_safe_traceback

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point.

    Ends the process with `os._exit` once the command is done and its output flushed: the
    Temporal client's Rust runtime keeps threads that may call into Python while the
    interpreter finalises, which aborts the process ("Fatal Python error: PyGILState_Release",
    exit 134) — after a command that succeeded (sdk-python#300). Nothing is left to clean up
    at that point: every command has finished its work, and the case store commits per unit.
    """
    code = 0
    try:
        app()
    except SystemExit as e:
        if isinstance(e.code, str):
            err.print(e.code)
            code = 1
        else:
            code = e.code or 0
        if code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            # Typer (like Click) exits 1 when stdout's reader went away (`| head -1`), after
            # wrapping stdout so nothing more is written. The reader had enough: not a refusal.
            code = 0
    except ValidationError as e:  # a malformed option value that reached a model
        # Field names and what is wrong, never the value (it may be a patient's).
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'value'}: {item['msg']}"
            for item in e.errors(include_url=False, include_input=False)
        )
        err.print(f"[red]error:[/red] {problems}", markup=False)
        code = 2
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # `cellpath status X | head -1`: the reader had enough. Not a refusal, not an error.
        code = 0
    except Exception as e:  # a bug: show where, and still exit cleanly
        print_safe_traceback(e)
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)
