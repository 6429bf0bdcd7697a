"""Where cellpath connects: Temporal's envconfig profiles and TEMPORAL_* variables."""

from __future__ import annotations

import pytest

from cellpath.codec import KeyRingError, new_key_entry
from cellpath.config import Settings
from cellpath.connection import data_converter, key_ring, temporal_target


def test_defaults_are_the_local_dev_server():
    target = temporal_target(env={})
    assert (target.address, target.namespace, target.tls) == ("localhost:7233", "default", False)


def test_temporal_variables_set_address_namespace_and_cloud_api_key():
    target = temporal_target(
        env={
            "TEMPORAL_ADDRESS": "cellpath.a1b2c.tmprl.cloud:7233",
            "TEMPORAL_NAMESPACE": "cellpath.a1b2c",
            "TEMPORAL_API_KEY": "secret-key",
        }
    )
    assert target.address == "cellpath.a1b2c.tmprl.cloud:7233"
    assert target.namespace == "cellpath.a1b2c"
    assert target.tls and target.api_key  # an API key implies TLS
    assert "secret-key" not in target.describe()


def test_a_profile_file_gives_mtls(tmp_path):
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    config = tmp_path / "temporal.toml"
    config.write_text(
        '[profile.production]\naddress = "temporal.internal:7233"\nnamespace = "cellpath"\n'
        f'[profile.production.tls]\nclient_cert_path = "{cert}"\nclient_key_path = "{key}"\n'
    )
    target = temporal_target(
        env={"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "production"}
    )
    assert (target.address, target.namespace, target.tls) == (
        "temporal.internal:7233",
        "cellpath",
        True,
    )
    tls = target.options["tls"]
    assert tls.client_cert == cert.read_bytes() and tls.client_private_key == key.read_bytes()


def test_explicit_arguments_win_over_the_environment():
    target = temporal_target("127.0.0.1:9999", "ns", env={"TEMPORAL_ADDRESS": "elsewhere:1"})
    assert (target.address, target.namespace) == ("127.0.0.1:9999", "ns")


def test_encryption_follows_the_settings(tmp_path):
    assert data_converter(Settings()).payload_codec is None
    entry = new_key_entry("k1")
    on = Settings(encryption_keys=entry)
    assert key_ring(on).active == "k1"
    assert data_converter(on).payload_codec is not None
    path = tmp_path / "keys"
    path.write_text(entry)
    with pytest.raises(KeyRingError, match="expected one"):
        key_ring(Settings(encryption_keys=entry, encryption_key_file=path))
