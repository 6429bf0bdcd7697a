"""Record files encrypted at rest: AES-256-GCM per file, the key id stored beside it.

Each file is sealed with the active key of the key ring (`cellpath.codec.KeyRing`: the payload
keys when `CELLPATH_ENCRYPTION_KEYS` is set, else `records_key_file`, made on first use for
local development) and a fresh 96-bit nonce. The associated data binds the ciphertext to its
case, its SHA-256 and its key id: a file copied under another case or relabelled with another
key does not decrypt. Rotating keys leaves old files readable while their key stays in the
ring.

Files are content-addressed within their case: the object key is `case/sha256`, so the same
file added twice is stored once, and erasing one case never touches another's files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cellpath.codec import KeyRing, new_key_entry
from cellpath.config import Settings
from cellpath.records.blobs import BlobStore, open_blobs

MAGIC = b"CPR1"  # cellpath record, format 1: MAGIC, nonce (12), ciphertext with tag


class VaultError(Exception):
    """A sealed file cannot be opened (its key is not in the ring, or it was altered)."""


@dataclass(frozen=True)
class Sealed:
    """Where a file went and how to open it again."""

    sha256: str
    key_id: str
    blob_key: str
    size: int


def ring_for(settings: Settings) -> KeyRing:
    """The key ring record files are sealed with (see the module's docstring)."""
    from cellpath.connection import key_ring

    ring = key_ring(settings)
    if ring is not None:
        return ring
    path = settings.records_key_file
    if not path.exists():
        _make_key_file(path)
    return KeyRing.from_file(path)


def _make_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# cellpath record keys (local development); first = active\n")
        f.write(new_key_entry("records-1") + "\n")


class Vault:
    """Seal, store, open and remove record files."""

    def __init__(self, blobs: BlobStore, ring: KeyRing) -> None:
        self.blobs = blobs
        self.ring = ring

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        """The vault the settings describe (`records_url`, the key ring)."""
        return cls(open_blobs(settings.records_url), ring_for(settings))

    @staticmethod
    def _aad(case_id: str, sha256: str, key_id: str) -> bytes:
        return f"{case_id}\x00{sha256}\x00{key_id}".encode()

    def put(self, case_id: str, data: bytes) -> Sealed:
        """Seal `data` and store it under `case/sha256`."""
        sha = hashlib.sha256(data).hexdigest()
        key_id = self.ring.active
        nonce = os.urandom(12)
        sealed = AESGCM(self.ring.keys[key_id]).encrypt(
            nonce, data, self._aad(case_id, sha, key_id)
        )
        blob_key = f"{case_id}/{sha}"
        self.blobs.put(blob_key, MAGIC + nonce + sealed)
        return Sealed(sha256=sha, key_id=key_id, blob_key=blob_key, size=len(data))

    def get(self, case_id: str, sha256: str, key_id: str, blob_key: str) -> bytes:
        """The plaintext of a stored file, checked against its SHA-256."""
        raw = self.blobs.get(blob_key)
        key = self.ring.keys.get(key_id)
        if key is None:
            raise VaultError(f"the record was sealed with key {key_id!r}, not in the key ring")
        if not raw.startswith(MAGIC):
            raise VaultError("the stored file is not a sealed record")
        nonce, sealed = raw[4:16], raw[16:]
        try:
            data = AESGCM(key).decrypt(nonce, sealed, self._aad(case_id, sha256, key_id))
        except InvalidTag:
            raise VaultError("the stored file does not open: altered, or not this case's") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise VaultError("the stored file's SHA-256 does not match its record")
        return data

    def delete(self, blob_key: str) -> bool:
        """Remove a stored file; whether it was there."""
        return self.blobs.delete(blob_key)
