"""A real OpenID provider (oidc-provider on node) for the module, registered with a Shadowmap
client and a second client (for tokens meant for another audience)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.sso.oidc_provider import OidcProvider, free_port

CLIENT_SECRET = "shadowmap-test-client-secret-0123456789"
ACCOUNTS = {
    "alice": {"groups": ["ai-governance-admins", "staff"]},
    "bob": {"groups": ["ai-reviewers"]},
    "carol": {"groups": ["staff"]},
    "admin": {"groups": ["ai-reviewers"]},  # the name of the local break-glass account
}
ROLE_MAP = "ai-governance-admins=admin,ai-reviewers=reviewer"


@pytest.fixture(scope="module")
def rp_port() -> int:
    """The port the Shadowmap server of the module listens on (known before the provider
    starts, which needs the client's addresses)."""
    return free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, rp_port: int) -> Iterator[OidcProvider]:
    rp = f"http://127.0.0.1:{rp_port}"
    folder = tmp_path_factory.mktemp("oidc-provider")
    op = OidcProvider(
        clients=[
            {
                "client_id": "shadowmap",
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{rp}/sso/callback"],
                "post_logout_redirect_uris": [f"{rp}/login"],
                "backchannel_logout_uri": f"{rp}/sso/backchannel-logout",
                "backchannel_logout_session_required": True,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
            {
                "client_id": "other-app",
                "client_secret": "other-app-secret-0123456789abcdef",
                "redirect_uris": ["http://127.0.0.1:9/other/callback"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
        ],
        accounts=ACCOUNTS,
        log_path=Path(folder) / "provider.log",
    )
    op.start()
    yield op
    op.stop()


def sso_settings(provider: OidcProvider, rp_port: int) -> dict[str, str]:
    """The SHADOWMAP_* settings that point a server at the provider."""
    return {
        "SHADOWMAP_PUBLIC_URL": f"http://127.0.0.1:{rp_port}",
        "SHADOWMAP_SSO_ISSUER": provider.issuer,
        "SHADOWMAP_SSO_CLIENT_ID": "shadowmap",
        "SHADOWMAP_SSO_CLIENT_SECRET": CLIENT_SECRET,
        "SHADOWMAP_SSO_DISPLAY_NAME": "Test IdP",
        "SHADOWMAP_SSO_ROLE_MAP": ROLE_MAP,
    }
