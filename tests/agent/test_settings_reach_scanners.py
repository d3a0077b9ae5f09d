"""Every scanner-affecting setting reaches the scanners the same way on both paths.

`shadowmap-agent scan --once` and the `run` service both build their scanners with
:func:`agent.scanners.registry.build_scanners`. Here one configuration file goes through
both, and the scanners each path built, and the findings each path returned, must show every
setting that bears on scanning:

* ``scanners``: only the named scanners run;
* ``resolve_catalogue_hosts``: the connection scanners' address book resolves the catalogue's
  exact host names (off: it resolves nothing);
* ``signature_public_key``: the verified bundle's catalogue is the one scanned with, its
  footprints included;
* ``pseudonymise_users`` / ``pseudonym_key``: the findings carry pseudonyms.

The other settings shape `run` only (schedule, spool, delivery, watchdog, capture) or
reaching the collector (both paths share the reporter): see docs/agent-settings.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import cli
from agent.addressbook import catalogue_hosts
from agent.catalogue import bundle_dir
from agent.config import SETTINGS, AgentSettings, load_settings
from agent.scanners import registry
from agent.scanners.base import Scanner
from agent.scanners.connections import ConnectionScanner
from agent.service import AgentService
from signatures import (
    Catalogue,
    build_bundle,
    generate_keypair,
    install_bundle,
    load_catalogue,
    load_private_key,
    load_public_key,
    parse_document,
)
from tests.agent.scanners.helpers import write

EXTRA_SERVICE = {
    "id": "test-bundle-tool",
    "name": "A tool only the signed bundle knows",
    "vendor": "Tests",
    "category": "coding_assistant",
    "indicators": {"footprints": [".test-bundle-tool"]},
    "sources": ["https://example.test/tool"],
}


def _image(root: Path) -> Path:
    """A mounted Linux image with one user whose home shows several scanners' evidence."""
    write(root / "etc/passwd", "alice:x:1000:1000::/home/alice:/bin/bash\n")
    home = root / "home/alice"
    write(home / ".bashrc", "export OPENAI_API_KEY=sk-not-a-real-key-0000000000\n")
    (home / ".codex").mkdir(parents=True)
    (home / ".test-bundle-tool").mkdir()
    site = home / ".local/lib/python3.12/site-packages"
    write(site / "openai-1.0.0.dist-info/METADATA", "Name: openai\nVersion: 1.0.0\n\n")
    return root


def _signed_bundle(state_dir: Path, keys: Path) -> Catalogue:
    """Install a bundle of the shipped catalogue plus one service; return its catalogue."""
    private_pem, public_pem = generate_keypair()
    write(keys / "bundle.pub.pem", public_pem)
    shipped = load_catalogue()
    extra = parse_document("extra.yaml", {"services": [EXTRA_SERVICE]})
    catalogue = Catalogue(version="test", services=(*shipped.services, *extra))
    data = build_bundle(catalogue, load_private_key(private_pem), bundle_version=1)
    info = install_bundle(
        data,
        public_key=load_public_key(public_pem),
        state_dir=bundle_dir(AgentSettings(state_dir=str(state_dir))),
    )
    return info.catalogue


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[registry.ScannerInputs, Scanner]]:
    """Record what every built-in scanner is built from, on whichever path builds it."""
    seen: list[tuple[registry.ScannerInputs, Scanner]] = []
    asked: list[str] = []

    def recording(factory: registry.ScannerFactory) -> registry.ScannerFactory:
        def build(inputs: registry.ScannerInputs) -> Scanner:
            # No DNS from tests: the book answers from here, and remembers what it was asked.
            inputs.address_book.resolve = lambda name: (asked.append(name) or [], 300)
            scanner = factory(inputs)
            seen.append((inputs, scanner))
            return scanner

        return build

    monkeypatch.setattr(
        registry, "BUILT_IN_SCANNERS", tuple(recording(f) for f in registry.BUILT_IN_SCANNERS)
    )
    return seen


@pytest.mark.parametrize("resolve", [True, False])
def test_each_scanner_setting_reaches_both_paths(
    tmp_path: Path,
    resolve: bool,
    built: list[tuple[registry.ScannerInputs, Scanner]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = _image(tmp_path / "image")
    state = tmp_path / "state"
    bundle_catalogue = _signed_bundle(state, tmp_path / "keys")
    config = write(
        tmp_path / "agent.toml",
        "[agent]\n"
        f'state_dir = "{state}"\n'
        'scanners = "connections,environment,ai_tool_footprints"\n'
        f"resolve_catalogue_hosts = {str(resolve).lower()}\n"
        f'signature_public_key = "{tmp_path / "keys/bundle.pub.pem"}"\n'
        "pseudonymise_users = true\n"
        'pseudonym_key = "a-fleet-wide-key-of-16+"\n',
    )
    settings = load_settings(config, environ={})

    # Path 1: `shadowmap-agent scan --once --json --root IMAGE`
    assert (
        cli.main(["--config", str(config), "scan", "--once", "--json", "--root", str(image)]) == 0
    )
    document = json.loads(capsys.readouterr().out)
    by_cli = {(f["kind"], f["service_id"], f["indicator"], f["user"]) for f in document["findings"]}
    cli_built = list(built)
    built.clear()

    # Path 2: the `run` service, scanning the same image
    service = AgentService(settings, scan_root=image)
    try:
        result = service.scan()
    finally:
        service.close()
    by_service = {(f.kind.value, f.service_id, f.indicator, f.user) for f in result.findings}
    service_built = list(built)

    for path, scanners_built in (("scan --once", cli_built), ("run", service_built)):
        inputs = {id(i): i for i, _scanner in scanners_built}.values()
        assert {i.settings for i in inputs} == {settings}, path
        assert {i.catalogue.version for i in inputs} == {bundle_catalogue.version}, path
        (book,) = {id(i.address_book): i.address_book for i in inputs}.values()
        expected = tuple(catalogue_hosts(bundle_catalogue)) if resolve else ()
        assert book.names == expected, path
        connections = [s for _i, s in scanners_built if isinstance(s, ConnectionScanner)]
        assert connections and all(s.book is book for s in connections), path
    # Live scanners are left out of a mounted image's scan; everything else ran alike.
    assert document["catalogue_version"] == bundle_catalogue.version

    for path, found in (("scan --once", by_cli), ("run", by_service)):
        services = {service_id for _kind, service_id, _indicator, _user in found}
        # signature_public_key: only the bundle's catalogue knows this footprint
        assert "test-bundle-tool" in services, path
        assert {"openai-api", "openai-codex-cli"} <= services, path
        # scanners: the package scanner did not run, though the image holds openai
        assert {kind for kind, *_rest in found} <= {"env_var", "app", "connection"}, path
        # pseudonymise_users / pseudonym_key
        users = {user for *_rest, user in found if user is not None}
        assert users and all(user.startswith("user-") for user in users), path
    # The same findings from the image on both paths (`run` also reads this host's sockets).
    assert by_cli == {f for f in by_service if f[0] != "connection"}


def test_the_settings_reference_says_both_paths_honour_them() -> None:
    scanning = {
        "scanners",
        "resolve_catalogue_hosts",
        "signature_public_key",
        "pseudonymise_users",
        "pseudonym_key",
    }
    used_by = {setting.name: setting.used_by for setting in SETTINGS}
    assert {name for name in scanning if used_by[name] != ("scan", "run")} == set()
