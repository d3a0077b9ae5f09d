"""Signed bundles: build, verify, reject tampering and foreign keys, install atomically."""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signatures import (
    BundleError,
    Catalogue,
    MaliciousReport,
    Matcher,
    build_bundle,
    ed25519_public_bytes,
    generate_keypair,
    install_bundle,
    load_catalogue,
    load_installed_bundle,
    load_private_key,
    load_public_key,
    verify_bundle,
    write_keypair,
)


@pytest.fixture(scope="module")
def keys() -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    private_pem, public_pem = generate_keypair()
    return load_private_key(private_pem), load_public_key(public_pem)


def test_round_trip_keeps_every_service(
    catalogue: Catalogue, keys: tuple[Ed25519PrivateKey, Ed25519PublicKey]
) -> None:
    private, public = keys
    info = verify_bundle(build_bundle(catalogue, private, bundle_version=7), public)
    assert info.bundle_version == 7
    assert info.catalogue.version == catalogue.version
    assert [s.id for s in info.catalogue.services] == [s.id for s in catalogue.services]
    original = catalogue.get("aws-bedrock")
    restored = info.catalogue.get("aws-bedrock")
    assert original is not None and restored is not None
    assert dict(restored.indicators) == dict(original.indicators)
    assert restored.risk == original.risk and restored.sources == original.sources
    hit = Matcher(info.catalogue).match_domain("bedrock-runtime.eu-west-1.amazonaws.com")
    assert hit is not None and hit.service_id == "aws-bedrock"


def _tamper(data: bytes) -> bytes:
    envelope = json.loads(data)
    envelope["payload"] = envelope["payload"].replace('"chatgpt.com"', '"chatgpt.example"', 1)
    return json.dumps(envelope).encode()


def test_tampered_bundle_is_rejected(
    catalogue: Catalogue, keys: tuple[Ed25519PrivateKey, Ed25519PublicKey]
) -> None:
    private, public = keys
    data = build_bundle(catalogue, private, bundle_version=1)
    tampered = _tamper(data)
    assert tampered != data
    with pytest.raises(BundleError, match="bad signature"):
        verify_bundle(tampered, public)


def test_wrong_key_is_rejected(
    catalogue: Catalogue, keys: tuple[Ed25519PrivateKey, Ed25519PublicKey]
) -> None:
    private, _ = keys
    data = build_bundle(catalogue, private, bundle_version=1)
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(BundleError, match="bad signature"):
        verify_bundle(data, other)


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"format": "other"}',
        json.dumps({"format": "shadowmap-signatures/1", "payload": "{}"}).encode(),
        json.dumps(
            {"format": "shadowmap-signatures/1", "payload": "{}", "signature": "!!notbase64!!"}
        ).encode(),
    ],
)
def test_malformed_bundles_are_rejected(
    data: bytes, keys: tuple[Ed25519PrivateKey, Ed25519PublicKey]
) -> None:
    with pytest.raises(BundleError):
        verify_bundle(data, keys[1])


def test_signed_but_invalid_content_is_rejected(
    keys: tuple[Ed25519PrivateKey, Ed25519PublicKey],
) -> None:
    private, public = keys
    payload = json.dumps(
        {"bundle_version": 1, "catalogue_version": "x", "services": [{"id": "bad", "name": "Bad"}]}
    )
    envelope = {
        "format": "shadowmap-signatures/1",
        "key_id": "k",
        "signature": base64.b64encode(private.sign(payload.encode())).decode(),
        "payload": payload,
    }
    with pytest.raises(BundleError, match="content is invalid"):
        verify_bundle(json.dumps(envelope).encode(), public)


def test_signed_but_unparsable_payload_is_rejected(
    keys: tuple[Ed25519PrivateKey, Ed25519PublicKey],
) -> None:
    private, public = keys
    payload = "{not json"
    envelope = {
        "format": "shadowmap-signatures/1",
        "signature": base64.b64encode(private.sign(payload.encode())).decode(),
        "payload": payload,
    }
    with pytest.raises(BundleError, match="payload is not JSON"):
        verify_bundle(json.dumps(envelope).encode(), public)


def test_install_keeps_the_previous_good_bundle(
    tmp_path: Path, catalogue: Catalogue, keys: tuple[Ed25519PrivateKey, Ed25519PublicKey]
) -> None:
    private, public = keys
    state = tmp_path / "state"
    assert load_installed_bundle(state, public) is None
    first = build_bundle(catalogue, private, bundle_version=1)
    second = build_bundle(catalogue, private, bundle_version=2)
    install_bundle(first, public_key=public, state_dir=state)
    install_bundle(second, public_key=public, state_dir=state)
    assert (state / "current.json").read_bytes() == second
    assert (state / "previous.json").read_bytes() == first
    installed = load_installed_bundle(state, public)
    assert installed is not None and installed.bundle_version == 2
    assert not [p for p in state.iterdir() if p.name.endswith(".tmp")]


def test_bad_bundle_never_replaces_the_good_one(
    tmp_path: Path, catalogue: Catalogue, keys: tuple[Ed25519PrivateKey, Ed25519PublicKey]
) -> None:
    private, public = keys
    good = build_bundle(catalogue, private, bundle_version=5)
    install_bundle(good, public_key=public, state_dir=tmp_path)
    with pytest.raises(BundleError):
        install_bundle(
            _tamper(build_bundle(catalogue, private, bundle_version=6)),
            public_key=public,
            state_dir=tmp_path,
        )
    with pytest.raises(BundleError, match="downgrade"):
        install_bundle(
            build_bundle(catalogue, private, bundle_version=4),
            public_key=public,
            state_dir=tmp_path,
        )
    assert (tmp_path / "current.json").read_bytes() == good


def test_corrupt_current_falls_back_to_previous(
    tmp_path: Path, catalogue: Catalogue, keys: tuple[Ed25519PrivateKey, Ed25519PublicKey]
) -> None:
    private, public = keys
    install_bundle(
        build_bundle(catalogue, private, bundle_version=1), public_key=public, state_dir=tmp_path
    )
    install_bundle(
        build_bundle(catalogue, private, bundle_version=2), public_key=public, state_dir=tmp_path
    )
    (tmp_path / "current.json").write_bytes(b"{corrupt")
    installed = load_installed_bundle(tmp_path, public)
    assert installed is not None and installed.bundle_version == 1


def test_write_keypair_is_private_and_never_overwrites(tmp_path: Path) -> None:
    private_path, public_path = write_keypair(tmp_path)
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    load_private_key(private_path.read_bytes())
    load_public_key(public_path.read_bytes())
    with pytest.raises(BundleError, match="refusing to overwrite"):
        write_keypair(tmp_path)


def test_keys_of_another_type_are_refused() -> None:
    with pytest.raises(BundleError):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(BundleError):
        load_public_key(b"short")


def test_the_key_check_without_cryptography_agrees_with_load_public_key() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    for _ in range(5):
        _, public_pem = generate_keypair()
        raw = load_public_key(public_pem).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert ed25519_public_bytes(public_pem) == raw
        assert ed25519_public_bytes(raw) == raw
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for refused in (other_pem, b"short", public_pem.replace(b"M", b"!", 1), public_pem[:40]):
        with pytest.raises(BundleError):
            load_public_key(refused)
        with pytest.raises(BundleError):
            ed25519_public_bytes(refused)


def test_a_malicious_report_survives_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "services:\n"
        "  - id: fake-ai-sidebar\n"
        "    name: Fake AI Sidebar\n"
        "    vendor: unknown\n"
        "    category: chat_assistant\n"
        "    indicators:\n"
        "      browser_extensions: [abcdefghijklmnopabcdefghijklmnop]\n"
        "    sources: [https://research.example/fake-ai-sidebar]\n"
        "    malicious:\n"
        "      report: https://research.example/fake-ai-sidebar\n"
        "      reported_on: 2025-03-01\n"
        "      summary: steals session cookies\n"
    )
    catalogue = load_catalogue(tmp_path)
    key = Ed25519PrivateKey.generate()
    info = verify_bundle(build_bundle(catalogue, key, bundle_version=1), key.public_key())
    (service,) = info.catalogue.services
    assert service.malicious == MaliciousReport(
        report="https://research.example/fake-ai-sidebar",
        reported_on=dt.date(2025, 3, 1),
        summary="steals session cookies",
    )
