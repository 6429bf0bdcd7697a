"""How every cellpath process reaches Temporal: one data converter, one way to connect.

The worker, the CLI, the dev stack, the codec server, the benchmark and the tests all build
their client here, so a payload encrypted by one can be read by the others, and a deployment
is configured in one place:

- **Where** comes from Temporal's environment configuration (`temporalio.envconfig`): a
  profile in `temporal.toml` (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`) and the `TEMPORAL_*`
  variables — `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY` (Temporal Cloud),
  `TEMPORAL_TLS_CLIENT_CERT_PATH` / `TEMPORAL_TLS_CLIENT_KEY_PATH` (mTLS),
  `TEMPORAL_TLS_SERVER_CA_CERT_PATH`, `TEMPORAL_TLS_SERVER_NAME`. The `temporal` CLI reads the
  same, so an operator's `temporal workflow list` and cellpath agree on the cluster.
- **How payloads are written** is `data_converter()`: the contract's pydantic converter, plus
  the AES-256-GCM codec and encoded failure attributes when encryption keys are configured.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime

from cellpath.codec import EncryptionCodec, KeyRing, KeyRingError
from cellpath.config import Settings, get_settings

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"


def key_ring(settings: Settings | None = None) -> KeyRing | None:
    """The configured encryption keys, or None when encryption is off.

    Raises:
        KeyRingError: keys are configured but unusable (both sources set, bad entry, no file).
    """
    settings = settings or get_settings()
    if settings.encryption_keys is not None and settings.encryption_key_file is not None:
        raise KeyRingError(
            "both CELLPATH_ENCRYPTION_KEYS and CELLPATH_ENCRYPTION_KEY_FILE are set; expected one"
        )
    if settings.encryption_keys is not None:
        return KeyRing.parse(settings.encryption_keys.get_secret_value())
    if settings.encryption_key_file is not None:
        return KeyRing.from_file(settings.encryption_key_file)
    return None


def data_converter(
    settings: Settings | None = None, *, ring: KeyRing | None = None
) -> DataConverter:
    """The data converter of every client and worker.

    Without keys: `pydantic_data_converter` (the contract). With keys: the same, with every
    payload encrypted by `EncryptionCodec` and failure messages and stack traces moved into an
    encoded (hence encrypted) attribute, so an exception's text never reaches history in clear.
    """
    ring = ring or key_ring(settings)
    if ring is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


@dataclass(frozen=True)
class TemporalTarget:
    """Where and how to connect, as resolved from the environment configuration."""

    address: str
    namespace: str
    tls: bool
    api_key: bool
    options: dict[str, Any]

    def describe(self) -> str:
        """A one-line description for logs and error messages (no secrets)."""
        extras = [x for x, on in (("TLS", self.tls), ("API key", self.api_key)) if on]
        return f"{self.address} (namespace {self.namespace}{''.join(', ' + x for x in extras)})"


def temporal_target(
    address: str | None = None, namespace: str | None = None, *, env: dict[str, str] | None = None
) -> TemporalTarget:
    """The Temporal connection from the active envconfig profile and `TEMPORAL_*` variables.

    Explicit `address` / `namespace` win (tests); then the profile and environment; then the
    local defaults (`localhost:7233`, `default`).
    """
    profile = ClientConfigProfile.load(override_env_vars=env)
    options: dict[str, Any] = dict(profile.to_client_connect_config())
    options["target_host"] = address or options.get("target_host") or DEFAULT_ADDRESS
    options["namespace"] = namespace or options.get("namespace") or DEFAULT_NAMESPACE
    return TemporalTarget(
        address=options["target_host"],
        namespace=options["namespace"],
        tls=bool(options.get("tls")),
        api_key=bool(options.get("api_key")),
        options=options,
    )


async def connect(
    address: str | None = None,
    namespace: str | None = None,
    runtime: Runtime | None = None,
    *,
    settings: Settings | None = None,
    converter: DataConverter | None = None,
) -> Client:
    """A client on the configured cluster with the product's data converter."""
    target = temporal_target(address, namespace)
    return await Client.connect(
        **target.options,
        data_converter=converter or data_converter(settings),
        runtime=runtime,
    )


__all__ = [
    "KeyRingError",
    "TemporalTarget",
    "connect",
    "data_converter",
    "key_ring",
    "temporal_target",
]
