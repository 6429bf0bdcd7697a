"""The records store's backends: a directory, and an S3-compatible server (moto's, from PyPI,
in this process) — the same tests run against both."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cellpath.records.blobs import BlobStore, LocalBlobs, S3Blobs


@pytest.fixture(scope="package")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server, or the test skips saying why."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:  # pragma: no cover - moto is a dev dependency
        pytest.skip(f"no local S3-compatible server installs here: {e}")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_store(endpoint: str) -> S3Blobs:
    """A fresh bucket on the local server."""
    bucket = f"records-{uuid.uuid4().hex[:10]}"
    blobs = S3Blobs(
        bucket,
        "cellpath",
        endpoint=endpoint,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
    )
    blobs.client.create_bucket(Bucket=bucket)
    return blobs


@pytest.fixture(params=["directory", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each backend in turn."""
    if request.param == "directory":
        return LocalBlobs(tmp_path / "records")
    return s3_store(request.getfixturevalue("s3_endpoint"))
