"""The console's staff commands: passwords (read from stdin, kept as Argon2 hashes, audited
without the password) and the sites a physician or nurse works on."""

from __future__ import annotations

import asyncio
from typing import Any

from cellpath.services.staff import check_password
from cellpath.store import STAFF_AUDIT, CaseStore


async def test_an_administrator_sets_passwords_and_sites(cli: Any, db_url: str) -> None:
    password = "a long enough passphrase"
    (
        (set_code, set_out, _),
        (short_code, _, short_err),
        (coord_code, _, coord_err),
    ) = await asyncio.gather(
        cli("staff", "passwd", "nurse-e2e", stdin=password + "\n", actor="admin-e2e"),
        cli("staff", "passwd", "dr-e2e", stdin="short\n", actor="admin-e2e"),
        cli("staff", "passwd", "coord-e2e", stdin=password + "\n", actor="coord-e2e"),
    )
    assert (set_code, set_out.strip()) == (0, "nurse-e2e: password set")
    assert short_code == 1 and "at least 12 characters, got 5" in short_err
    assert coord_code == 1 and "manage_staff needs an administrator" in coord_err

    store = CaseStore.from_url(db_url)
    hashed = store.password_hash("nurse-e2e")
    assert hashed is not None and hashed.startswith("$argon2id$") and password not in hashed
    assert check_password(store, "nurse-e2e", password) is not None
    assert check_password(store, "nurse-e2e", "a wrong passphrase!") is None
    assert store.password_hash("dr-e2e") is None  # the refused one set nothing

    code, out, _ = await cli("staff", "sites", "nurse-e2e", "site-b", "site-a", actor="admin-e2e")
    assert (code, out.strip()) == (0, "nurse-e2e: site-a, site-b")
    member = store.member("nurse-e2e")
    assert member is not None and member.sites == ["site-a", "site-b"]

    trail = [(r.action, r.detail.get("staff")) for r in store.audit_trail(STAFF_AUDIT)]
    assert ("password_set", "nurse-e2e") in trail and ("staff_sites_set", "nurse-e2e") in trail
    assert all(password not in str(r.detail) for r in store.audit_trail(STAFF_AUDIT))
