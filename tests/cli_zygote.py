"""The command line for the tests, without paying its start-up on every call.

`python -m starter` spends most of its two seconds importing (Temporal's client, SQLAlchemy,
the models, every command's services); the end-to-end tests call it a few hundred times. This
process imports the command line once, then forks a child per call: the child is a process of
its own, with the call's environment, arguments, stdin, stdout, stderr and exit code, and runs
`starter.main()` exactly as `python -m starter` would — only the imports were done before.

What the start-up itself costs, and that it works from a bare interpreter, stays covered by the
tests that still run `python -m starter` (tests/e2e/test_phi_traces.py) and by `make run`.

Protocol (one JSON object per line): requests on stdin with `id`, `args`, `env` and the paths
of the child's `stdin`, `stdout` and `stderr`; replies on stdout with `id` and `rc`. Calls run
concurrently: a thread per call forks and waits for its child.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from typing import Any, TextIO


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the command's process, then run it (never returns)."""
    code = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, flags in (
            (0, request["stdin"], os.O_RDONLY),
            (1, request["stdout"], os.O_WRONLY | os.O_TRUNC),
            (2, request["stderr"], os.O_WRONLY | os.O_TRUNC),
        ):
            opened = os.open(path, flags)
            os.dup2(opened, fd)
            os.close(opened)
        # Fresh streams on the new descriptors. The parent's are kept, never collected: the
        # reading thread held stdin's lock when this child was forked, and closing it would
        # wait for that lock for ever.
        request["parent_streams"] = (sys.stdin, sys.stdout, sys.stderr)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
        sys.argv = ["cellpath", *request["args"]]
        import starter

        starter.main()  # ends the process with the command's exit code (os._exit)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(code)


def _call(request: dict[str, Any], replies: TextIO, lock: threading.Lock) -> None:
    """Fork the call's child, wait for it and say how it ended."""
    pid = os.fork()
    if pid == 0:
        _child(request)
    _, status = os.waitpid(pid, 0)
    with lock:
        replies.write(json.dumps({"id": request["id"], "rc": os.waitstatus_to_exitcode(status)}))
        replies.write("\n")
        replies.flush()


def serve() -> None:
    """Import the command line, then answer requests until stdin closes."""
    import starter  # noqa: F401 - the point of this process: every command, imported once

    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    lock = threading.Lock()
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in sys.stdin:
        request = json.loads(line)
        threading.Thread(target=_call, args=(request, replies, lock), daemon=True).start()


if __name__ == "__main__":
    serve()
