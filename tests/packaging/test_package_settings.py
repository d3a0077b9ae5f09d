"""`shadowmap package` checks what it bakes in and writes an agent.toml the agent accepts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.config import load_settings
from server.agent_packages.build import BakedSettings, Builder, PackageType
from server.cli import main
from server.errors import PackagingError
from signatures import write_keypair


def _ca(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Private CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text("smet_" + "a" * 30 + "\n")
    return path


def test_the_baked_agent_toml_is_what_the_agent_reads(tmp_path: Path, secret: Path) -> None:
    baked = BakedSettings.from_files(
        server_url="https://shadowmap.example.com/",
        enroll_secret_file=secret,
        ca_file=_ca(tmp_path / "ca.pem"),
        tags=["pilot", "finance", "pilot"],
        update_key_file=write_keypair(tmp_path / "keys")[1],
    )
    assert baked.enroll_secret == "smet_" + "a" * 30
    assert baked.tags == ("pilot", "finance")
    config = tmp_path / "agent.toml"
    config.write_text(
        baked.agent_toml(
            state_dir="/var/lib/shadowmap-agent",
            token_file="/etc/shadowmap-agent/enroll-token",
            ca_file="/etc/shadowmap-agent/ca.pem",
            update_key_file="/etc/shadowmap-agent/update-key.pem",
        )
    )
    settings = load_settings(config)
    assert settings.tags == "pilot,finance"
    assert settings.update_public_key == "/etc/shadowmap-agent/update-key.pem"
    assert settings.server_url == "https://shadowmap.example.com"
    assert settings.ca_file == "/etc/shadowmap-agent/ca.pem"
    assert settings.enrollment_token_file == "/etc/shadowmap-agent/enroll-token"
    assert baked.enroll_secret not in config.read_text()  # the secret lives in its own file


@pytest.mark.parametrize(
    ("url", "secret_text", "ca_text", "tags", "complaint"),
    [
        ("ftp://collector", "smet_x", None, [], "--server must be an https:// URL"),
        ("https://u:p@collector", "smet_x", None, [], "must not carry credentials"),
        ("https://collector", "\n", None, [], "exactly one token"),
        ("https://collector", "two tokens", None, [], "exactly one token"),
        ("https://collector", "x" * 5000, None, [], "over 4096 bytes"),
        ("https://collector", "smet_x", "not a certificate", [], "--ca-file holds no PEM"),
        ("https://collector", "smet_x", None, ["Bad Tag"], "is not a tag"),
    ],
)
def test_unusable_input_is_refused_with_the_option_named(
    tmp_path: Path,
    url: str,
    secret_text: str,
    ca_text: str | None,
    tags: list[str],
    complaint: str,
) -> None:
    secret = tmp_path / "secret"
    secret.write_text(secret_text)
    ca = None
    if ca_text is not None:
        ca = tmp_path / "ca.pem"
        ca.write_text(ca_text)
    with pytest.raises(PackagingError, match=complaint):
        BakedSettings.from_files(server_url=url, enroll_secret_file=secret, ca_file=ca, tags=tags)


def test_a_missing_secret_file_is_a_clear_cli_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "package",
            "--type",
            "deb",
            "--server",
            "https://collector.example.com",
            "--enroll-secret-file",
            str(tmp_path / "missing"),
        ]
    )
    assert code == 2
    assert "--enroll-secret-file: cannot read it" in capsys.readouterr().err


def test_a_folder_that_is_no_checkout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="not a Shadowmap source checkout"):
        Builder(repo=tmp_path, work_dir=tmp_path / "work")


def test_every_package_type_is_offered() -> None:
    assert {kind.value for kind in PackageType} == {"deb", "rpm", "msi", "pkg", "zipapp", "update"}


def test_an_msi_without_a_windows_runtime_says_what_to_give(tmp_path: Path, secret: Path) -> None:
    baked = BakedSettings.from_files(
        server_url="https://collector.example.com", enroll_secret_file=secret
    )
    builder = Builder(repo=Path(__file__).resolve().parents[2], work_dir=tmp_path / "work")
    with pytest.raises(PackagingError, match="--type msi needs --windows-runtime"):
        builder.build(PackageType.MSI, baked, tmp_path / "out")


def test_an_update_key_that_is_not_an_ed25519_public_key_is_refused(
    tmp_path: Path, secret: Path
) -> None:
    with pytest.raises(PackagingError, match="--update-key: "):
        BakedSettings.from_files(
            server_url="https://collector.example.com",
            enroll_secret_file=secret,
            update_key_file=_ca(tmp_path / "not-a-key.pem"),
        )


def test_msi_without_a_runtime_fails_before_anything_is_built(
    tmp_path: Path, secret: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "package",
            "--type",
            "deb",
            "--type",
            "msi",
            "--server",
            "https://collector.example.com",
            "--enroll-secret-file",
            str(secret),
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "--type msi needs --windows-runtime" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
