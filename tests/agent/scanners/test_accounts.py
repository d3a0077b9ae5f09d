"""Whose browser profile: the signed-in account's class on every extension, the address dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.runner import run_scan
from agent.scanners.accounts import classify, email_domain
from agent.scanners.base import ScanContext
from agent.scanners.browsers import BrowserExtensionScanner
from signatures import Matcher
from tests.agent.scanners.helpers import make_user, run, write

MONICA = "ofpnmcalabcbjgholdjcjblkibolbppb"
ORG = frozenset({"example.com"})


def chrome_profile(base: Path, directory: str, preferences: dict[str, object]) -> None:
    version = base / directory / "Extensions" / MONICA / "1.0_0"
    write(version / "manifest.json", {"manifest_version": 3, "name": "Monica", "version": "1.0"})
    write(base / directory / "Preferences", preferences)
    write(
        base / directory / "Secure Preferences",
        {"extensions": {"settings": {MONICA: {"path": f"{MONICA}/1.0_0", "state": 1}}}},
    )


def signed_in(*emails: str, primary: int = 0) -> dict[str, object]:
    accounts = [{"account_id": str(i), "email": email} for i, email in enumerate(emails)]
    return {"account_info": accounts, "google": {"services": {"account_id": str(primary)}}}


@pytest.mark.parametrize(
    ("preferences", "expected"),
    [
        (
            signed_in("ana@example.com"),
            {"profile_account": "corporate", "profile_account_domain": "example.com"},
        ),
        (
            signed_in("ana@eu.example.com"),
            {"profile_account": "corporate", "profile_account_domain": "eu.example.com"},
        ),
        (signed_in("ana.lopez@gmail.com"), {"profile_account": "personal"}),
        (signed_in("ana@yahoo.co.uk"), {"profile_account": "personal"}),
        (signed_in("ana@partner-firm.de"), {"profile_account": "other"}),
        # The primary account decides; a secondary one added to the content area does not.
        (
            signed_in("me@gmail.com", "ana@example.com", primary=1),
            {"profile_account": "corporate", "profile_account_domain": "example.com"},
        ),
        (
            {"google": {"services": {"username": "old@hotmail.com"}}},
            {"profile_account": "personal"},
        ),
        ({}, {"profile_account": "none"}),
        ({"account_info": [{"email": "not an address"}]}, {"profile_account": "none"}),
        ({"account_info": "garbage", "google": ["garbage"]}, {"profile_account": "none"}),
    ],
    ids=[
        "corporate",
        "subdomain",
        "gmail",
        "yahoo-uk",
        "other-org",
        "primary",
        "legacy",
        "signed-out",
        "malformed",
        "hostile",
    ],
)
def test_chromium_profile_account_class(
    tmp_path: Path, preferences: dict[str, object], expected: dict[str, str]
) -> None:
    user = make_user(tmp_path)
    chrome_profile(user.home / ".config/google-chrome", "Default", preferences)
    ctx = ScanContext(root=tmp_path, users=(user,), organisation_domains=ORG)

    observations, errors = run(BrowserExtensionScanner(), ctx)

    assert errors == []
    [observation] = observations
    got = {
        key: value
        for key, value in observation.evidence.items()
        if key.startswith("profile_account")
    }
    assert got == expected
    text = json.dumps(dict(observation.evidence)) + json.dumps(
        {key: str(value) for key, value in observation.hints.items()}
    )
    assert "@" not in text  # the address never leaves the scanner, not even as a hint


def test_firefox_sync_account_class_and_a_broken_account_file(tmp_path: Path) -> None:
    user = make_user(tmp_path)
    firefox = user.home / ".mozilla/firefox"
    write(
        firefox / "profiles.ini",
        "[Profile0]\nPath=a.default\n[Profile1]\nPath=b.work\n[Profile2]\nPath=c.broken\n",
    )
    addon = {"addons": [{"id": "87677a2c52b84ad3a151a4a72f5bd3c4@jetpack", "type": "extension"}]}
    for name in ("a.default", "b.work", "c.broken"):
        write(firefox / name / "extensions.json", addon)
    write(firefox / "a.default/signedInUser.json", {"accountData": {"email": "ana@proton.me"}})
    write(firefox / "b.work/signedInUser.json", {"accountData": {"email": "ana@example.com"}})
    write(firefox / "c.broken/signedInUser.json", '{"accountData": {"email": "an')  # truncated
    ctx = ScanContext(root=tmp_path, users=(user,), organisation_domains=ORG)

    observations, errors = run(BrowserExtensionScanner(), ctx)

    by_profile = {
        o.evidence["profile_dir"]: o.evidence.get("profile_account") for o in observations
    }
    assert by_profile == {"a.default": "personal", "b.work": "corporate", "c.broken": None}
    assert [Path(str(e.path)).parent.name for e in errors] == ["c.broken"]


def test_without_organisation_domains_a_company_account_is_another_organisation(
    tmp_path: Path,
) -> None:
    assert classify("example.com", ()) == ("other", None)
    assert classify("example.com", ORG) == ("corporate", "example.com")
    assert classify("notexample.com", ORG) == ("other", None)  # not a subdomain
    assert classify(None, ORG) == ("none", None)
    assert email_domain("a@b@example.com") is None
    assert email_domain("ana@EXAMPLE.com.") == "example.com"


def test_the_same_extension_in_two_profiles_is_reported_from_the_personal_one(
    tmp_path: Path, matcher: Matcher
) -> None:
    user = make_user(tmp_path)
    chrome = user.home / ".config/google-chrome"
    chrome_profile(chrome, "Default", signed_in("ana@example.com"))
    chrome_profile(chrome, "Profile 1", signed_in("ana@gmail.com"))
    ctx = ScanContext(root=tmp_path, users=(user,), organisation_domains=ORG)

    result = run_scan(ctx, (BrowserExtensionScanner(),), matcher)

    [finding] = result.findings
    assert (finding.service_id, finding.evidence["profile_account"]) == ("monica", "personal")
