"""Entry point of the `cellpath` command line (`python -m starter`, or the `cellpath` script).

The commands live in `cellpath.cli`; they parse, call `cellpath.services`, print, and map
outcomes to exit codes (0 done, 1 refused, 2 usage or connection error).
"""

from __future__ import annotations

from cellpath.cli import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
