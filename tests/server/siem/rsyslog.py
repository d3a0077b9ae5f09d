"""A real rsyslog (Debian's rsyslogd with its OpenSSL stream driver) receiving RFC 5425 syslog
over TLS on 127.0.0.1, with a certificate authority and server certificate made here with
``cryptography``. Every message it receives is written raw, one per line, to a file."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """Write a CA and a server certificate for ``localhost`` / 127.0.0.1; return the paths
    of the CA certificate, the server certificate and its key."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Shadowmap test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Rsyslog:
    """One rsyslogd of the test's own: start, stop (the outage), start again, read."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.ca, cert, key = make_certificates(self.folder)
        self.received = self.folder / "received.log"
        (self.folder / "work").mkdir(exist_ok=True)
        self.config = self.folder / "rsyslog.conf"
        self.config.write_text(
            f'global(workDirectory="{self.folder / "work"}"\n'
            f'       defaultNetstreamDriver="ossl"\n'
            f'       defaultNetstreamDriverCAFile="{self.ca}"\n'
            f'       defaultNetstreamDriverCertFile="{cert}"\n'
            f'       defaultNetstreamDriverKeyFile="{key}")\n'
            'module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1"\n'
            '       streamDriver.authMode="anon")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n'
            'template(name="raw" type="string" string="%rawmsg%\\n")\n'
            f'*.* action(type="omfile" file="{self.received}" template="raw")\n'
        )

    def start(self) -> None:
        with (self.folder / "rsyslogd.err").open("ab") as errors:
            self.process = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(self.folder / "rsyslogd.pid")],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "rsyslogd stopped: " + (self.folder / "rsyslogd.err").read_text()
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("rsyslogd did not start listening")

    def stop(self) -> None:
        """Stop it (SIGTERM: it writes out what it has) and wait until the port is closed."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)
        self.process = None

    def lines(self, *, expect: int = 0, timeout: float = 10.0) -> list[str]:
        """The messages received so far, waiting up to ``timeout`` for at least ``expect``."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.received.read_text() if self.received.exists() else ""
            found = [line for line in text.splitlines() if line]
            if len(found) >= expect or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
