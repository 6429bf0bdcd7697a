"""The tests' side of `tests/cli_zygote.py`: run `cellpath …` in a forked child of a process
that imported the command line once."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path

from tests.support import ROOT


class CommandLine:
    """One zygote process per test process; `run` may be called from several threads."""

    def __init__(self, env: dict[str, str]) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.cli_zygote"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        ready = self._proc.stdout.readline()
        if not ready:
            raise RuntimeError("the command line's zygote did not start (see stderr)")
        self._ids = itertools.count()
        self._pending: dict[int, Future[int]] = {}
        self._lock = threading.Lock()
        self._dir = tempfile.TemporaryDirectory(prefix="cellpath-cli-")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            reply = json.loads(line)
            with self._lock:
                future = self._pending.pop(reply["id"])
            future.set_result(reply["rc"])
        with self._lock:  # the zygote died: every call still waiting fails, saying so
            for future in self._pending.values():
                future.set_exception(RuntimeError("the command line's zygote exited"))

    def run(
        self, args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 120
    ) -> tuple[int, str, str]:
        """Run one command; returns (exit code, stdout, stderr), as `subprocess.run` would."""
        call = next(self._ids)
        base = Path(self._dir.name) / str(call)
        paths = {part: base.with_suffix(f".{part}") for part in ("stdin", "stdout", "stderr")}
        paths["stdin"].write_text(stdin or "", encoding="utf-8")
        paths["stdout"].touch()
        paths["stderr"].touch()
        future: Future[int] = Future()
        request = {"id": call, "args": args, "env": env} | {k: str(p) for k, p in paths.items()}
        with self._lock:
            self._pending[call] = future
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
        code = future.result(timeout=timeout)
        out, err = (paths[p].read_text(encoding="utf-8") for p in ("stdout", "stderr"))
        for path in paths.values():
            path.unlink()
        return code, out, err

    def close(self) -> None:
        """Stop the zygote (its children have all ended by then)."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=30)
        self._dir.cleanup()
