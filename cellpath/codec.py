"""Payload encryption: AES-256-GCM over every payload Temporal stores for cellpath.

What Temporal holds of a journey (inputs, milestones, query results, summaries, failure
messages) is encrypted by the client or worker before it leaves the process, so the cluster,
its database, its backups and anyone with UI access without the codec see ciphertext.

- Each encrypted payload carries the id of the key that encrypted it in its metadata
  (`encryption-key-id`), so keys can rotate: the *active* key encrypts, every key in the
  ring decrypts. Retire an old key only when no history still needs it (see README).
- The key ring comes from settings (`CELLPATH_ENCRYPTION_KEYS`) or a key file
  (`CELLPATH_ENCRYPTION_KEY_FILE`), never from code. Format: one `key-id:base64-key` per entry,
  comma- or newline-separated; the first entry is the active key, the others only decrypt.
  Rotation in two steps is safe in any restart order: first add the new key *after* the
  active one everywhere (it only decrypts), then move it first everywhere (it encrypts).
- Workers decode *leniently*: a payload sealed with a key they lack, or one that fails its
  integrity check, is handed on still sealed (marked `undecodable`) instead of failing the
  workflow task for ever. The journey then refuses that message, or keeps a refused signal,
  naming the key; clients (CLI, codec server) decode strictly and name the missing key.
- Payloads that are not encrypted (histories written before encryption was switched on) pass
  through `decode` unchanged, so turning encryption on needs no migration.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
# Set by a lenient codec on a payload it could not open: why ("unknown-key" or "integrity").
UNDECODABLE = "undecodable"
NONCE_BYTES = 12
TAG_BYTES = 16
_KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyRingError(ValueError):
    """The configured keys are unusable; the message names what was expected."""


class UnknownKeyError(ValueError):
    """A payload was encrypted with a key this process does not have."""


class MalformedPayloadError(ValueError):
    """A payload marked encrypted that cannot be one (a key id that is not text, no data)."""


@dataclass(frozen=True)
class KeyRing:
    """Encryption keys by id; `active` encrypts, all of them decrypt."""

    active: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """A ring from `id:base64key` entries (comma or newline separated; first is active).

        Lines starting with `#` are comments. Each key must decode to exactly 32 bytes.

        Raises:
            KeyRingError: naming the entry (by position and id, never the key) that is wrong.
        """
        entries = [
            e.strip()
            for line in text.splitlines()
            if not line.strip().startswith("#")
            for e in line.split(",")
            if e.strip()
        ]
        if not entries:
            raise KeyRingError("no encryption keys given; expected 'key-id:base64-key' entries")
        keys: dict[str, bytes] = {}
        for n, entry in enumerate(entries, start=1):
            key_id, sep, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not sep or not _KEY_ID_PATTERN.match(key_id):
                raise KeyRingError(
                    f"key entry {n}: expected 'key-id:base64-key' with an id of letters, "
                    "digits, '.', '_' or '-'"
                )
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error:
                raise KeyRingError(f"key {key_id!r}: not valid base64") from None
            if len(key) != 32:
                raise KeyRingError(
                    f"key {key_id!r}: {len(key)} bytes; AES-256 needs exactly 32 bytes"
                )
            if key_id in keys:
                raise KeyRingError(f"key {key_id!r} is given twice")
            keys[key_id] = key
        return cls(active=next(iter(keys)), keys=keys)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """A ring read from a key file (same format as `parse`, one entry per line)."""
        try:
            return cls.parse(path.read_text())
        except OSError as e:
            raise KeyRingError(f"cannot read key file {path}: {e.strerror}") from None


def new_key_entry(key_id: str) -> str:
    """A fresh random 256-bit key as a `key-id:base64` entry, for rotation."""
    if not _KEY_ID_PATTERN.match(key_id):
        raise KeyRingError("key id: expected letters, digits, '.', '_' or '-' (at most 64)")
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec with the key id in each payload's metadata.

    The whole serialized payload (its metadata, such as `encoding: json/plain`, and its data)
    is encrypted, so nothing about a value's shape is left in clear. The key id is bound to the
    ciphertext as associated data: relabelling a payload with another key id fails to decrypt.
    """

    def __init__(self, ring: KeyRing, *, lenient: bool = False) -> None:
        self._ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self.lenient = lenient

    def for_worker(self) -> EncryptionCodec:
        """The same ring, decoding leniently (see the module docstring)."""
        return self if self.lenient else EncryptionCodec(self._ring, lenient=True)

    @property
    def active_key_id(self) -> str:
        """The id of the key new payloads are encrypted with."""
        return self._ring.active

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the active key."""
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt each encrypted payload; leave unencrypted ones as they are.

        A lenient codec hands on, still sealed, a payload it cannot open (marked why).
        """
        if not self.lenient:
            return [self.decrypt(p) for p in payloads]
        out = []
        for p in payloads:
            try:
                out.append(self.decrypt(p))
            except UnknownKeyError:
                out.append(_marked(p, b"unknown-key"))
            except (InvalidTag, DecodeError, MalformedPayloadError):
                out.append(_marked(p, b"integrity"))
        return out

    def encrypt(self, payload: Payload) -> Payload:
        """One payload, encrypted with the active key."""
        key_id = self._ring.active
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        """One payload, decrypted with the key its metadata names.

        Raises:
            UnknownKeyError: the key id is not in this process's ring (names the id only).
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        try:
            key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayloadError("the payload's key id is not UTF-8 text") from None
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(
                f"payload encrypted with key {key_id[:64]!r}, which is not configured; "
                "add it to CELLPATH_ENCRYPTION_KEYS (or the key file) to read it"
            )
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise MalformedPayloadError(
                f"the payload's data is {len(data)} bytes; an encrypted payload has at least "
                f"{NONCE_BYTES + TAG_BYTES} (nonce and tag)"
            )
        plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def _marked(payload: Payload, why: bytes) -> Payload:
    """`payload` as it came, with the reason it could not be opened in its metadata."""
    out = Payload()
    out.CopyFrom(payload)
    out.metadata[UNDECODABLE] = why
    return out
