"""Whose browser profile: the class of the account signed in to it, never the address.

Chromium keeps the signed-in account in the profile's ``Preferences`` (``account_info``, with
``google.services.account_id`` naming the primary one); Firefox keeps its Sync account in the
profile's ``signedInUser.json``. The address is read here and dropped here: only its class
leaves the host, ``corporate`` when its domain is one of the organisation's domains (which the
collector pushes to its agents, see :mod:`agent.pushed`), ``personal`` for a public mail
provider, ``other`` for any other organisation's domain, ``none`` when nobody is signed in, and
for ``corporate`` the domain (the organisation's own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agent.evidence import EvidenceField
from agent.scanners.files import MAX_SMALL_BYTES, Missing, read_json_object
from signatures import EvidenceValue

CORPORATE, PERSONAL, OTHER, NONE = "corporate", "personal", "other", "none"
ACCOUNT_CLASSES = (CORPORATE, PERSONAL, OTHER, NONE)

EVIDENCE: tuple[EvidenceField, ...] = (
    EvidenceField(
        "profile_account",
        "text",
        "Class of the account signed in to the browser profile: corporate (one of the "
        "organisation's domains), personal (a public mail provider), other, or none.",
    ),
    EvidenceField(
        "profile_account_domain",
        "text",
        "For a corporate profile only: the organisation's domain it is signed in with.",
    ),
)

# Public mail providers: an account there is a person's own, whoever pays for the laptop.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "passport.com",
        "yahoo.com",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "tutanota.com",
        "tuta.io",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "t-online.de",
        "freenet.de",
        "mail.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "inbox.ru",
        "bk.ru",
        "list.ru",
        "rambler.ru",
        "qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "naver.com",
        "daum.net",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "virgilio.it",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "interia.pl",
        "btinternet.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "bigpond.com",
        "rediffmail.com",
    }
)
# Providers whose country domains are all public mail (hotmail.fr, yahoo.co.uk, outlook.de...).
_PUBLIC_FAMILIES = re.compile(r"^(?:hotmail|outlook|live|yahoo|gmx|yandex)\.[a-z.]{2,6}$")
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def email_domain(address: object) -> str | None:
    """Return the domain of an email address (lower case), or None when it is not one."""
    if not isinstance(address, str) or address.count("@") != 1:
        return None
    domain = address.rsplit("@", 1)[1].strip().lower().rstrip(".")
    return domain if len(domain) <= 253 and _DOMAIN.match(domain) else None


def classify(domain: str | None, organisation_domains: Iterable[str]) -> tuple[str, str | None]:
    """Return (class, the domain to report) of an account's email domain."""
    if domain is None:
        return NONE, None
    for own in organisation_domains:
        if domain == own or domain.endswith("." + own):
            return CORPORATE, domain
    if domain in PUBLIC_MAIL_DOMAINS or _PUBLIC_FAMILIES.match(domain):
        return PERSONAL, None
    return OTHER, None


def chromium_account_domain(preferences: Mapping[str, Any]) -> str | None:
    """Return the email domain of the account signed in to a Chromium profile, if any.

    ``account_info`` lists every account the profile knows (the primary one and any added to
    the content area); ``google.services.account_id`` names the one signed in to the browser.
    """
    accounts = preferences.get("account_info")
    if not isinstance(accounts, list):
        accounts = []
    accounts = [account for account in accounts[:64] if isinstance(account, dict)]
    services = preferences.get("google")
    services = services.get("services") if isinstance(services, dict) else None
    primary_id = services.get("account_id") if isinstance(services, dict) else None
    if primary_id is not None:
        for account in accounts:
            if primary_id in (account.get("account_id"), account.get("gaia")):
                return email_domain(account.get("email"))
    if accounts:
        return email_domain(accounts[0].get("email"))
    if isinstance(services, dict):
        return email_domain(services.get("username"))  # older Chromium: no account_info
    return None


def firefox_account_domain(profile: Path) -> str | None:
    """Return the email domain of the Firefox account (Sync) a profile is signed in to.

    Raises Unreadable for a signedInUser.json that exists but cannot be used.
    """
    try:
        doc = read_json_object(profile / "signedInUser.json", MAX_SMALL_BYTES)
    except Missing:
        return None
    data = doc.get("accountData")
    return email_domain(data.get("email")) if isinstance(data, dict) else None


def account_evidence(
    domain: str | None, organisation_domains: Iterable[str]
) -> dict[str, EvidenceValue]:
    """Return the evidence fields a profile's account gives every finding from that profile."""
    account_class, reported = classify(domain, organisation_domains)
    evidence: dict[str, EvidenceValue] = {"profile_account": account_class}
    if reported is not None:
        evidence["profile_account_domain"] = reported
    return evidence


def riskier(first: Mapping[str, EvidenceValue], second: Mapping[str, EvidenceValue]) -> bool:
    """Tell whether ``second`` comes from a profile more worth showing than ``first``'s.

    The same extension of the same user in two profiles is one finding: the personal profile
    is the one a reviewer must see.
    """
    order = {PERSONAL: 3, OTHER: 2, CORPORATE: 1, NONE: 0}
    return order.get(str(second.get("profile_account")), -1) > order.get(
        str(first.get("profile_account")), -1
    )
