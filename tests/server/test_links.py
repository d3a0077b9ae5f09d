"""server/links.py agrees with Django's URLValidator (what CISO Assistant checks links with),
on chosen cases and on generated ones."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from server.links import is_link, link_problem
from server.register.schemas import DOCUMENTED_LINK

if not settings.configured:
    settings.configure()

_DJANGO = URLValidator(schemes=["http", "https"])


def django_accepts(value: str) -> bool:
    try:
        _DJANGO(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("http://intranet/wiki", False),  # a host name without a dot
        ("http://wiki.intranet/", True),
        ("http://10.0.0.5/wiki", True),  # an IP address needs no dot
        ("http://[2001:db8::1]:8443/x", True),
        ("http://[2001:db8::g]/", False),
        ("http://localhost:8000/register/AIR-2026-0001", True),
        ("https://.example.com/x", False),
        ("http://-bad.example.com/", False),
        ("http://example.c0m/", False),
        ("http://example.xn--p1ai/", True),
        ("http://01.2.3.4/", False),
        ("https://user:secret@example.com:8080/p?q=1#f", True),
        ("http://example.com/with space", False),
        ("http://example.com:123456/", False),
        ("ftp://example.com/", False),  # Django accepts ftp; a Shadowmap link is http(s)
        ("http://xn--bcher-kva.example/", True),
        ("http://bücher.example/", True),
    ],
)
def test_chosen_links(url: str, accepted: bool) -> None:
    assert is_link(url) is accepted
    assert django_accepts(url) is accepted or url.startswith("ftp:")
    if not accepted:
        assert link_problem(url) == "Enter a valid URL."


_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.ü", min_size=0, max_size=12)
_HOSTS = st.one_of(
    _LABEL,
    st.builds(lambda a, b: f"{a}.{b}", _LABEL, _LABEL),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.sampled_from(["localhost", "LOCALHOST", "intranet", "example.com."]),
)
_URLS = st.builds(
    lambda scheme, user, host, port, path: f"{scheme}://{user}{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "ftp", "htp"]),
    st.sampled_from(["", "u@", "u:p@", "u:@", "a?b@", ":p@"]),
    _HOSTS,
    st.sampled_from(["", ":80", ":", ":123456", ":08"]),
    st.text(alphabet="/?#abc %@:[]\t", max_size=8),
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(_URLS)
def test_generated_links_are_judged_as_django_judges_them(url: str) -> None:
    assert is_link(url) is django_accepts(url), url


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_judged_as_django_judges_it(text: str) -> None:
    for url in (text, f"http://{text}", f"https://example.com/{text}"):
        assert is_link(url) is django_accepts(url), url


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.from_regex(DOCUMENTED_LINK, fullmatch=True))
def test_every_link_the_openapi_pattern_allows_is_accepted(link: str) -> None:
    # The OpenAPI document promises this pattern for evidence links: a client that writes to it
    # (schemathesis did: 'http://S' passed the old pattern) must never be refused.
    assert link_problem(link) is None
