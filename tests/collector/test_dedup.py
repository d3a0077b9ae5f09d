"""Dedup rules: which inventory item a finding belongs to (pure, no database)."""

from __future__ import annotations

import pytest

from collector.dedup import candidate_indicator, item_identity, registrable_domain
from signatures import FindingKind, load_catalogue
from tests.factories import finding

CATALOGUE = load_catalogue()


@pytest.mark.parametrize(
    ("name", "domain"),
    [
        ("api.openai.com", "openai.com"),
        ("Chat.NewAI.co.uk.", "newai.co.uk"),
        ("*.models.example.com.au", "example.com.au"),
        ("newai.io", "newai.io"),
        ("10.1.2.3", "10.1.2.3"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("intranet", "intranet"),
        ("co.uk", "co.uk"),
    ],
)
def test_registrable_domain_uses_the_public_suffix_list(name: str, domain: str) -> None:
    assert registrable_domain(name) == domain


def test_candidates_group_by_normalised_indicator() -> None:
    def group(kind: FindingKind, indicator: str, indicator_kind: str) -> tuple[str, str]:
        return candidate_indicator(
            finding(None, kind=kind, indicator=indicator, indicator_kind=indicator_kind)
        )

    assert group(FindingKind.SNI, "a.b.newai.dev", "sni") == ("domain", "newai.dev")
    assert group(FindingKind.DNS, "x.newai.dev", "") == ("domain", "newai.dev")
    assert group(FindingKind.PACKAGE, "Fancy_LLM.Tools", "pypi") == ("pypi", "fancy-llm-tools")
    assert group(FindingKind.PACKAGE, "@Scope/Pkg", "npm") == ("npm", "@scope/pkg")
    assert group(FindingKind.BROWSER_EXTENSION, "ABCDEF", "browser_extension") == (
        "browser_extension",
        "abcdef",
    )


def test_known_services_roll_up_by_service_id_whatever_the_channel() -> None:
    by_process = item_identity(finding("openai-chatgpt"), CATALOGUE)
    by_dns = item_identity(
        finding("openai-chatgpt", kind=FindingKind.DNS, indicator="chatgpt.com"), CATALOGUE
    )
    assert by_process == by_dns
    assert by_process.key == "svc:openai-chatgpt" and by_process.vendor == "OpenAI"
    newer = item_identity(finding("brand-new-service"), CATALOGUE)
    assert newer.key == "svc:brand-new-service" and newer.name == "brand-new-service"


def test_an_unknown_extension_is_named_from_its_manifest_not_its_id() -> None:
    from collector.dedup import item_identity
    from signatures import FindingKind, load_catalogue
    from tests.factories import finding

    extension = finding(
        None,
        kind=FindingKind.BROWSER_EXTENSION,
        indicator="abcdefghijklmnopabcdefghijklmnop",
        indicator_kind="browser_extension",
        evidence={"name": "  Prompt   Helper ", "browser": "chrome"},
    )
    identity = item_identity(extension, load_catalogue())
    assert identity.name == "Prompt Helper"
    assert identity.key == "cand:browser_extension:abcdefghijklmnopabcdefghijklmnop"
    unresolved = finding(
        None,
        kind=FindingKind.BROWSER_EXTENSION,
        indicator="abcdefghijklmnopabcdefghijklmnop",
        indicator_kind="browser_extension",
        evidence={"name": "__MSG_appName__"},
    )
    assert item_identity(unresolved, load_catalogue()).name == "abcdefghijklmnopabcdefghijklmnop"
