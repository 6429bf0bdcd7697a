"""Where record files' bytes are kept: one small protocol, two backends.

`BlobStore` is all the records service needs: put, get, delete and exists by key. The bytes
given are already encrypted (`cellpath.records.vault`); a backend never sees a plaintext.

- `LocalBlobs`: a directory (the default, `.cellpath/records` for `make run`). Files are
  written to a temporary name and renamed, so a crash never leaves half a file under a key.
- `S3Blobs`: any S3-compatible object store through boto3 (AWS S3, MinIO, Ceph, …), configured
  by URL: `s3://bucket/prefix?endpoint=https://…&region=…`; credentials from boto3's usual
  sources (environment, profile, instance role) or `s3://KEY:SECRET@bucket/…`.

Both pass the same tests (tests/records/test_blobs.py).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

# Keys are `case/sha256[.suffix]`: letters, digits, '-', '_', '.' and one '/' level at most.
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}(/[A-Za-z0-9_.-]{1,128})?$")


class BlobError(Exception):
    """The store could not be reached or refused the operation (never says what a file held)."""


def check_key(key: str) -> str:
    """`key` if it is a safe object key (no path traversal, no absolute path), else ValueError."""
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"not a record key: {key!r}")
    return key


class BlobStore(Protocol):
    """The records store's backend: opaque bytes by key."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (replacing what was there)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under `key`; KeyError when there are none."""
        ...

    def delete(self, key: str) -> bool:
        """Remove `key`; whether there was something to remove."""
        ...

    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""
        ...

    def describe(self) -> str:
        """Where this store is, for operators (no credentials)."""
        ...


class LocalBlobs:
    """Blobs as files under a directory (made owner-only on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def describe(self) -> str:
        return f"directory {self.root}"


class S3Blobs:
    """Blobs as objects in an S3-compatible bucket, under an optional prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        name = self._key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=name, Body=data)
        except Exception as e:  # botocore's errors come in many types
            raise BlobError(f"cannot store a record in {self.describe()}: {_why(e)}") from None

    def get(self, key: str) -> bytes:
        name = self._key(key)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
            return bytes(body.read())
        except Exception as e:
            if _missing(e):
                raise KeyError(key) from None
            raise BlobError(f"cannot read a record from {self.describe()}: {_why(e)}") from None

    def delete(self, key: str) -> bool:
        there = self.exists(key)
        name = self._key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=name)
        except Exception as e:
            raise BlobError(f"cannot delete a record in {self.describe()}: {_why(e)}") from None
        return there

    def exists(self, key: str) -> bool:
        name = self._key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except Exception as e:
            if _missing(e):
                return False
            raise BlobError(f"cannot reach {self.describe()}: {_why(e)}") from None
        return True

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"bucket {self.bucket}{'/' + self.prefix if self.prefix else ''}{where}"


def _missing(e: Exception) -> bool:
    code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _why(e: Exception) -> str:
    code = getattr(e, "response", {}).get("Error", {}).get("Code")
    return str(code) if code else type(e).__name__


def open_blobs(url: str) -> BlobStore:
    """The store a `records_url` names: a directory (path or file://) or an s3:// bucket."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        query = parse_qs(parts.query)
        bucket = parts.hostname
        if not bucket:
            raise ValueError("records_url: expected s3://bucket/prefix?endpoint=…&region=…")
        return S3Blobs(
            bucket,
            parts.path,
            endpoint=query.get("endpoint", [None])[0],
            region=query.get("region", [None])[0],
            access_key=unquote(parts.username) if parts.username else None,
            secret_key=unquote(parts.password) if parts.password else None,
        )
    if parts.scheme == "file":
        return LocalBlobs(Path(unquote(parts.path)))
    if parts.scheme:
        raise ValueError(
            f"records_url: unknown scheme {parts.scheme!r}; expected a directory, file:// or s3://"
        )
    return LocalBlobs(Path(url))
