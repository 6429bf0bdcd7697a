"""The records store's protocol, against both backends; the vault's sealing; content checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cellpath.codec import KeyRing, new_key_entry
from cellpath.config import Settings
from cellpath.records import content
from cellpath.records.blobs import BlobStore, LocalBlobs, S3Blobs, open_blobs
from cellpath.records.vault import Vault, VaultError, ring_for

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nMRN 0042 Zhang Wei pathology: DLBCL\n%%EOF"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def ring(*ids: str) -> KeyRing:
    return KeyRing.parse(",".join(new_key_entry(i) for i in ids or ("k1",)))


def test_put_get_exists_delete(blobs: BlobStore) -> None:
    assert not blobs.exists("CASE-1/abc")
    with pytest.raises(KeyError):
        blobs.get("CASE-1/abc")
    blobs.put("CASE-1/abc", b"one")
    blobs.put("CASE-1/abc", b"two")  # replaced, not appended
    assert blobs.exists("CASE-1/abc") and blobs.get("CASE-1/abc") == b"two"
    assert blobs.delete("CASE-1/abc") is True
    assert blobs.delete("CASE-1/abc") is False and not blobs.exists("CASE-1/abc")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b", "a/b/c", "", "a b"])
def test_keys_that_would_leave_the_store_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a record key"):
        blobs.put(key, b"x")


def test_the_vault_keeps_no_plaintext_and_opens_what_it_sealed(blobs: BlobStore) -> None:
    vault = Vault(blobs, ring("k1"))
    sealed = vault.put("CASE-1", PDF)
    assert sealed.sha256 == hashlib.sha256(PDF).hexdigest() and sealed.key_id == "k1"
    stored = blobs.get(sealed.blob_key)
    assert b"Zhang Wei" not in stored and b"%PDF" not in stored  # encrypted at rest
    assert vault.get("CASE-1", sealed.sha256, "k1", sealed.blob_key) == PDF


def test_a_sealed_file_opens_only_as_its_case_with_its_key(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    old = Vault(blobs, ring("k1"))
    sealed = old.put("CASE-1", PDF)
    # Copied under another case: it does not open there.
    blobs.put("CASE-2/" + sealed.sha256, blobs.get(sealed.blob_key))
    with pytest.raises(VaultError, match="altered, or not this case's"):
        old.get("CASE-2", sealed.sha256, "k1", "CASE-2/" + sealed.sha256)
    # After rotation (k2 active, k1 kept) the old file still opens; without k1 it does not.
    rotated = Vault(blobs, KeyRing(active="k2", keys={"k2": ring("k2").keys["k2"]} | old.ring.keys))
    assert rotated.get("CASE-1", sealed.sha256, "k1", sealed.blob_key) == PDF
    assert rotated.put("CASE-1", PNG).key_id == "k2"
    with pytest.raises(VaultError, match="not in the key ring"):
        Vault(blobs, ring("k3")).get("CASE-1", sealed.sha256, "k1", sealed.blob_key)
    # One bit flipped on disk: refused, never returned.
    path = tmp_path / sealed.blob_key
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(VaultError):
        old.get("CASE-1", sealed.sha256, "k1", sealed.blob_key)


def test_without_configured_keys_a_local_key_file_is_made_owner_only(tmp_path: Path) -> None:
    settings = Settings(records_key_file=tmp_path / "keys" / "records.keys")
    first = ring_for(settings)
    assert (settings.records_key_file.stat().st_mode & 0o777) == 0o600
    assert ring_for(settings) == first  # read again, not replaced


def test_open_blobs_reads_the_url() -> None:
    assert isinstance(open_blobs(".cellpath/records"), LocalBlobs)
    assert isinstance(open_blobs("file:///var/lib/cellpath/records"), LocalBlobs)
    s3 = open_blobs("s3://AK:SK@bucket/pre?endpoint=http://127.0.0.1:9000&region=eu-west-1")
    assert isinstance(s3, S3Blobs) and (s3.bucket, s3.prefix) == ("bucket", "pre")
    assert "SK" not in s3.describe()
    with pytest.raises(ValueError, match="unknown scheme"):
        open_blobs("ftp://x/y")


@pytest.mark.parametrize(
    ("data", "name", "declared", "words"),
    [
        (b"", "a.pdf", None, "empty"),
        (b"MZ\x90\x00" + b"\x00" * 60, "report.pdf", None, "program or script"),
        (b"\x7fELF" + b"\x00" * 60, "scan.png", None, "program or script"),
        (b"#!/bin/sh\nrm -rf /\n", "notes.txt", None, "program or script"),
        (b"PK\x03\x04" + b"\x00" * 60, "records.zip", None, "application/zip"),
        (PDF, "scan.jpg", None, "named .jpg but its content is application/pdf"),
        (PDF, "report.pdf", "image/png", "declared image/png but its content is application/pdf"),
        (b"\x00\x01\x02\x03" * 40, "blob.bin", None, "not recognised"),
    ],
)
def test_content_is_checked_by_its_bytes(
    data: bytes, name: str, declared: str | None, words: str
) -> None:
    with pytest.raises(content.ContentRefused, match=words):
        content.check(data, name, declared)


def test_accepted_types_by_content() -> None:
    assert content.check(PDF, "report.PDF", "application/pdf").media_type == "application/pdf"
    assert content.check(PNG, "photo.png", "image/png").media_type == "image/png"
    dicom = b"\x00" * 128 + b"DICM" + b"\x00" * 64
    assert content.check(dicom, "ct.dcm", "application/octet-stream").media_type == (
        "application/dicom"
    )
    text = "病理报告：弥漫大B细胞淋巴瘤\n".encode()
    assert content.check(text, "translation.txt", "text/plain").media_type == "text/plain"
