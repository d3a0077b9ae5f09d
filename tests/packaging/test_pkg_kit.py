"""`shadowmap package --type pkg`: the kit a Mac turns into the .pkg (pkgbuild), settings baked."""

from __future__ import annotations

import plistlib
import stat
import tarfile
from pathlib import Path

import pytest

from server.agent_packages.build import BakedSettings, Builder, PackageType

pytestmark = pytest.mark.slow


def test_the_macos_kit_carries_the_baked_settings_and_a_locked_build(
    package_builder: Builder, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_text("smet_" + "m" * 30)
    baked = BakedSettings.from_files(
        server_url="https://collector.example.com",
        enroll_secret_file=tmp_path / "secret",
        tags=["pilot"],
    )
    built = package_builder.build(PackageType.PKG, baked, tmp_path / "out")
    # The kit holds the enrollment secret: only its owner may read it on the build machine.
    assert stat.S_IMODE(built.path.stat().st_mode) == 0o600
    with tarfile.open(built.path) as tar:
        members = {member.name.split("/", 1)[1]: member for member in tar if "/" in member.name}
        support = "root/Library/Application Support/Shadowmap/"
        token = members[support + "enroll-token"]
        assert stat.S_IMODE(token.mode) == 0o600
        toml = tar.extractfile(members[support + "agent.toml"])
        assert toml is not None
        text = toml.read().decode()
        plist = tar.extractfile(members["root/Library/LaunchDaemons/dev.shadowmap.agent.plist"])
        assert plist is not None
        job = plistlib.load(plist)
        for name in (
            "build-pkg.sh",
            "scripts/postinstall",
            "lock/agent.txt",
            "source/agent/cli.py",
        ):
            assert name in members, name
            if name.endswith((".sh", "postinstall")):
                assert members[name].mode & 0o111, name
        assert not any(name.startswith(("source/server", "source/collector")) for name in members)
    assert 'server_url = "https://collector.example.com"' in text
    assert 'tags = "pilot"' in text
    assert "smet_" not in text
    assert job["ProgramArguments"][2] == "/Library/Application Support/Shadowmap/agent.toml"
