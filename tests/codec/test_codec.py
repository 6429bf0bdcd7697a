"""The payload codec: AES-256-GCM, key ids in metadata, rotation, refusal of bad keys."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload

from cellpath.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    KeyRing,
    KeyRingError,
    UnknownKeyError,
    new_key_entry,
)

KEY_A = new_key_entry("2026-a")
KEY_B = new_key_entry("2026-b")


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_round_trip_hides_data_and_encoding() -> None:
    codec = EncryptionCodec(KeyRing.parse(KEY_A))
    [sealed] = await codec.encode([plain("records_complete")])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"2026-a"
    assert b"records_complete" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [plain("records_complete")]


async def test_same_value_twice_gives_different_ciphertext() -> None:
    codec = EncryptionCodec(KeyRing.parse(KEY_A))
    one, two = await codec.encode([plain("x"), plain("x")])
    assert one.data != two.data


async def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old = EncryptionCodec(KeyRing.parse(KEY_A))
    [under_a] = await old.encode([plain("before rotation")])
    rotated = EncryptionCodec(KeyRing.parse(f"{KEY_B}\n{KEY_A}"))
    [under_b] = await rotated.encode([plain("after rotation")])
    assert under_b.metadata[KEY_ID] == b"2026-b"
    assert await rotated.decode([under_a, under_b]) == [
        plain("before rotation"),
        plain("after rotation"),
    ]


async def test_unknown_key_names_the_key_not_the_data() -> None:
    [sealed] = await EncryptionCodec(KeyRing.parse(KEY_B)).encode([plain("secret")])
    with pytest.raises(UnknownKeyError, match="'2026-b'"):
        await EncryptionCodec(KeyRing.parse(KEY_A)).decode([sealed])


async def test_relabelled_key_id_fails_integrity() -> None:
    """The key id is bound to the ciphertext: swapping it cannot make a payload decrypt."""
    ring = KeyRing.parse(f"{KEY_A},{KEY_B.replace('2026-b', '2026-a2')}")
    codec = EncryptionCodec(ring)
    [sealed] = await codec.encode([plain("x")])
    sealed.metadata[KEY_ID] = b"2026-a2"
    with pytest.raises(InvalidTag):
        await codec.decode([sealed])


async def test_unencrypted_payloads_pass_through() -> None:
    """Histories written before encryption was switched on stay readable."""
    codec = EncryptionCodec(KeyRing.parse(KEY_A))
    assert await codec.decode([plain("old")]) == [plain("old")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no encryption keys"),
        ("nocolon", "expected 'key-id:base64-key'"),
        ("bad id!:AAAA", "expected 'key-id:base64-key'"),
        ("k:not base64!", "not valid base64"),
        (f"k:{base64.b64encode(b'short').decode()}", "5 bytes; AES-256 needs exactly 32"),
        (f"{KEY_A},{KEY_A}", "given twice"),
    ],
)
def test_bad_key_ring_is_refused_without_echoing_keys(text: str, message: str) -> None:
    with pytest.raises(KeyRingError, match=message) as caught:
        KeyRing.parse(text)
    secret = text.partition(":")[2]
    assert not secret or secret not in str(caught.value)


def test_key_file_first_entry_is_active(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2026-11\n{KEY_B}\n{KEY_A}\n")
    ring = KeyRing.from_file(path)
    assert ring.active == "2026-b"
    assert set(ring.keys) == {"2026-a", "2026-b"}
    with pytest.raises(KeyRingError, match="cannot read key file"):
        KeyRing.from_file(tmp_path / "missing")
