"""TLS to the collector: verification is on, and the collector's CA can be pinned (ca_file).

A real collector process serves HTTPS with a certificate from a CA this test generates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import free_port, run_cli

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

SERVE_TLS = """
import sys
import uvicorn
from server.app import create_app
from server.config import ServerSettings

data_dir, port, cert, key = sys.argv[1:5]
uvicorn.run(create_app(ServerSettings(data_dir=data_dir)), host="127.0.0.1", port=int(port),
            ssl_certfile=cert, ssl_keyfile=key, log_level="warning")
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(
    directory: Path, label: str
) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"Test CA {label}"))
        .issuer_name(_name(f"Test CA {label}"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"ca-{label}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_server_cert(
    directory: Path, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class TlsCollector:
    url: str
    data_dir: Path
    ca: Path
    other_ca: Path


@pytest.fixture
def tls_collector(tmp_path: Path) -> Iterator[TlsCollector]:
    ca, ca_key, ca_cert = make_ca(tmp_path, "pinned")
    other_ca, _, _ = make_ca(tmp_path, "other")
    cert, key = make_server_cert(tmp_path, ca_key, ca_cert)
    data_dir = tmp_path / "server"
    run_cli("server", "db", "upgrade", "--data-dir", str(data_dir))
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_TLS, str(data_dir), str(port), str(cert), str(key)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"https://127.0.0.1:{port}"
    pinned = ssl.create_default_context(cafile=str(ca))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", verify=pinned, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert process.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the TLS collector did not start"
                time.sleep(0.2)
        yield TlsCollector(url=url, data_dir=data_dir, ca=ca, other_ca=other_ca)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _enroll(
    collector: TlsCollector, state: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    token = run_cli(
        "server", "enroll-token", "create", "--quiet", "--data-dir", str(collector.data_dir)
    ).stdout.strip()
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "enroll",
            "--server",
            collector.url,
            "--token",
            token,
            "--state-dir",
            str(state),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


def test_the_pinned_ca_is_trusted(tls_collector: TlsCollector, tmp_path: Path) -> None:
    result = _enroll(
        tls_collector, tmp_path / "a", {"SHADOWMAP_AGENT_CA_FILE": str(tls_collector.ca)}
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a" / "credential.json").exists()


@pytest.mark.parametrize("pinned", ["other", "system"])
def test_a_certificate_from_another_ca_is_refused(
    tls_collector: TlsCollector, tmp_path: Path, pinned: str
) -> None:
    env = {"SHADOWMAP_AGENT_CA_FILE": str(tls_collector.other_ca)} if pinned == "other" else {}
    result = _enroll(tls_collector, tmp_path / "b", env)
    assert result.returncode == 1
    assert (
        "CERTIFICATE_VERIFY_FAILED" in result.stderr or "certificate verify failed" in result.stderr
    )
    assert not (tmp_path / "b" / "credential.json").exists()


def test_an_unreadable_ca_file_is_a_setting_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "enroll",
            "--server",
            "https://127.0.0.1:9",
            "--token",
            "smet_" + "x" * 20,
            "--state-dir",
            str(tmp_path / "s"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), "SHADOWMAP_AGENT_CA_FILE": str(bad)},
    )
    assert result.returncode == 1
    assert "setting 'ca_file'" in result.stderr


def test_a_ca_in_the_system_trust_store_is_trusted_without_ca_file(
    tls_collector: TlsCollector, tmp_path: Path
) -> None:
    # IT's way: the private CA goes into the system store with update-ca-certificates; the
    # agent reads the operating system's store (truststore), not certifi's bundled list.
    if os.geteuid() != 0 or not shutil.which("update-ca-certificates"):
        pytest.skip("installing a CA in the system store needs root and update-ca-certificates")
    anchor = Path("/usr/local/share/ca-certificates") / f"shadowmap-test-{tmp_path.name}.crt"
    anchor.parent.mkdir(parents=True, exist_ok=True)
    anchor.write_bytes(tls_collector.ca.read_bytes())
    try:
        subprocess.run(["update-ca-certificates"], capture_output=True, check=True, timeout=120)
        env = {"SSL_CERT_FILE": "", "SSL_CERT_DIR": ""}
        result = _enroll(tls_collector, tmp_path / "c", env)
    finally:
        anchor.unlink()
        subprocess.run(["update-ca-certificates", "--fresh"], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c" / "credential.json").exists()


def test_enroll_reads_the_token_from_a_file_or_standard_input(
    tls_collector: TlsCollector, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SHADOWMAP_AGENT_CA_FILE": str(tls_collector.ca)}
    token = run_cli(
        "server", "enroll-token", "create", "--quiet", "--data-dir", str(tls_collector.data_dir)
    ).stdout.strip()
    token_file = tmp_path / "enroll-token"
    token_file.write_text(token + "\n")
    base = [sys.executable, "-m", "agent", "enroll", "--server", tls_collector.url]
    from_file = subprocess.run(
        [*base, "--token-file", str(token_file), "--state-dir", str(tmp_path / "f")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert from_file.returncode == 0, from_file.stderr
    assert (tmp_path / "f" / "credential.json").exists()
    empty = tmp_path / "empty"
    empty.write_text("\n")
    refused = subprocess.run(
        [*base, "--token-file", str(empty), "--state-dir", str(tmp_path / "g")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert refused.returncode == 1 and "holds no token" in refused.stderr
    token2 = run_cli(
        "server", "enroll-token", "create", "--quiet", "--data-dir", str(tls_collector.data_dir)
    ).stdout.strip()
    from_stdin = subprocess.run(
        [*base, "--token-file", "-", "--state-dir", str(tmp_path / "h")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        input=token2 + "\n",
    )
    assert from_stdin.returncode == 0, from_stdin.stderr
