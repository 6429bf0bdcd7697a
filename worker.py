"""Entry point of a cellpath worker: `python worker.py` (or `cellpath worker`).

`create_worker(client, *, task_queue=…, **overrides)` and `ensure_search_attributes(client)` are
importable from here whatever the package layout (other programs rely on it); they live in
`cellpath.runtime`.
"""

from __future__ import annotations

from cellpath.runtime import create_worker, ensure_search_attributes, main

__all__ = ["create_worker", "ensure_search_attributes", "main"]

if __name__ == "__main__":
    main()
