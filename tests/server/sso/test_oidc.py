"""Single sign-on against the real provider: a sign-in through the callback, and every bad
answer refused (wrong audience, expired, unsigned, badly signed, replayed code, state
mismatch, nonce mismatch), groups mapped to roles, just-in-time users, the break-glass
account, and logout tokens."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import sso as sso_store
from collector.store import users
from server.accounts.passwords import hash_password
from server.app import create_app
from server.config import ServerSettings
from server.sso.errors import SsoRefused
from server.sso.oidc import OidcClient, ProviderConfig
from tests.server.conftest import PASSWORD
from tests.server.sso.conftest import CLIENT_SECRET, ROLE_MAP
from tests.server.sso.oidc_provider import OidcProvider, sign_in_at_provider

pytestmark = pytest.mark.slow


def rp_config(provider: OidcProvider, rp_port: int, **changes: object) -> ProviderConfig:
    rp = f"http://127.0.0.1:{rp_port}"
    values: dict[str, object] = {
        "issuer": provider.issuer,
        "client_id": "shadowmap",
        "client_secret": CLIENT_SECRET,
        "redirect_uri": f"{rp}/sso/callback",
        "post_logout_redirect_uri": f"{rp}/login",
        "scopes": "openid profile email groups",
        **changes,
    }
    return ProviderConfig(**values)  # type: ignore[arg-type]


def real_token(client: OidcClient, login: str = "alice") -> tuple[str, str, str]:
    """Sign in at the provider as ``login``; return (ID token, its nonce, the code used)."""
    request = client.authorization_request()
    back = sign_in_at_provider(request.url, login=login, redirect_prefix=client.config.redirect_uri)
    code = parse_qs(urlsplit(back).query)["code"][0]
    token = client.exchange_code(code, code_verifier=request.code_verifier)
    return token, request.nonce, code


@pytest.fixture(scope="module")
def rp(provider: OidcProvider, rp_port: int) -> Iterator[OidcClient]:
    client = OidcClient(rp_config(provider, rp_port))
    yield client
    client.close()


def test_a_real_id_token_is_accepted(rp: OidcClient) -> None:
    token, nonce, _ = real_token(rp)
    identity = rp.verify_id_token(token, nonce=nonce)
    assert identity.subject == "alice" and identity.session_id
    assert identity.claims["groups"] == ["ai-governance-admins", "staff"]


def test_a_token_for_another_audience_is_refused(
    rp: OidcClient, provider: OidcProvider, rp_port: int
) -> None:
    other = OidcClient(
        rp_config(
            provider,
            rp_port,
            client_id="other-app",
            client_secret="other-app-secret-0123456789abcdef",
            redirect_uri="http://127.0.0.1:9/other/callback",
        )
    )
    token, nonce, _ = real_token(other)
    other.verify_id_token(token, nonce=nonce)  # fine for the app it was issued to
    other.close()
    with pytest.raises(SsoRefused, match="another audience"):
        rp.verify_id_token(token, nonce=nonce)


def test_an_expired_token_is_refused(rp: OidcClient, provider: OidcProvider, rp_port: int) -> None:
    token, nonce, _ = real_token(rp)
    expiry = json.loads(_part(token, 1))["exp"]
    rp.now = lambda: expiry + 61
    try:
        with pytest.raises(SsoRefused, match="expired"):
            rp.verify_id_token(token, nonce=nonce)
        rp.now = lambda: expiry + 59  # within the allowed clock skew it still passes
        rp.verify_id_token(token, nonce=nonce)
    finally:
        rp.now = time.time


def test_an_unsigned_token_is_refused(rp: OidcClient) -> None:
    token, nonce, _ = real_token(rp)
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{header}.{token.split('.')[1]}."
    with pytest.raises(SsoRefused, match="accepted algorithm"):
        rp.verify_id_token(unsigned, nonce=nonce)


def test_a_badly_signed_token_is_refused(rp: OidcClient) -> None:
    token, nonce, _ = real_token(rp)
    head, body, signature = token.split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SsoRefused, match="signature does not verify"):
        rp.verify_id_token(f"{head}.{body}.{flipped}", nonce=nonce)
    # The same claims signed by someone else's key under the provider's key id.
    forger = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
    claims = json.loads(_part(token, 1))
    forged = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, forger)
    with pytest.raises(SsoRefused, match="signature does not verify"):
        rp.verify_id_token(forged, nonce=nonce)


def test_a_nonce_mismatch_is_refused(rp: OidcClient) -> None:
    token, _, _ = real_token(rp)
    with pytest.raises(SsoRefused, match="nonce"):
        rp.verify_id_token(token, nonce="the nonce of another sign-in")


def test_a_replayed_code_is_refused_by_the_provider(rp: OidcClient) -> None:
    request = rp.authorization_request()
    back = sign_in_at_provider(request.url, login="alice", redirect_prefix=rp.config.redirect_uri)
    code = parse_qs(urlsplit(back).query)["code"][0]
    rp.exchange_code(code, code_verifier=request.code_verifier)
    with pytest.raises(SsoRefused, match="invalid_grant"):
        rp.exchange_code(code, code_verifier=request.code_verifier)


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(rp: OidcClient) -> None:
    request = rp.authorization_request()
    back = sign_in_at_provider(request.url, login="alice", redirect_prefix=rp.config.redirect_uri)
    code = parse_qs(urlsplit(back).query)["code"][0]
    with pytest.raises(SsoRefused, match="invalid_grant"):
        rp.exchange_code(code, code_verifier="x" * 64)


# Through the application's routes ------------------------------------------------------------


@pytest.fixture
def app_client(
    tmp_path: Path, provider: OidcProvider, rp_port: int
) -> Iterator[tuple[TestClient, ServerSettings]]:
    settings = ServerSettings(
        data_dir=tmp_path,
        public_url=f"http://127.0.0.1:{rp_port}",
        sso_issuer=provider.issuer,
        sso_client_id="shadowmap",
        sso_client_secret=CLIENT_SECRET,
        sso_role_map=ROLE_MAP,
        scheduler_enabled=False,
    )
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        for name, role in (("admin", "admin"), ("victor", "viewer")):
            users.create_user(
                session, username=name, password_hash=hash_password(PASSWORD), role=role
            )
    engine.dispose()
    with TestClient(create_app(settings), base_url=f"http://127.0.0.1:{rp_port}") as client:
        yield client, settings


def start(client: TestClient, login: str) -> str:
    """Start a sign-in in the app and play the user at the provider; return the callback URL."""
    answer = client.get("/sso/login", follow_redirects=False)
    assert answer.status_code == 303
    return sign_in_at_provider(
        answer.headers["location"], login=login, redirect_prefix=str(client.base_url)
    )


def callback(client: TestClient, url: str) -> object:
    return client.get(url.removeprefix(str(client.base_url)), follow_redirects=False)


def test_sign_in_creates_the_user_with_the_role_from_the_groups(
    app_client: tuple[TestClient, ServerSettings],
) -> None:
    client, settings = app_client
    answer = callback(client, start(client, "alice"))
    assert answer.status_code == 200 and "url=/inventory" in answer.text  # type: ignore[attr-defined]
    assert client.get("/admin/users").status_code == 200  # alice's groups make her admin
    engine = make_engine(settings.resolved_database_url())
    with transaction(make_sessionmaker(engine)) as session:
        alice = users.get_user_by_username(session, username="alice")
        assert alice is not None and alice.role == "admin"
        identity = sso_store.get_identity_of_user(session, user_id=alice.id)
        assert identity is not None and identity.subject == "alice"
    engine.dispose()


def test_groups_that_map_to_no_role_are_refused(
    app_client: tuple[TestClient, ServerSettings],
) -> None:
    client, _ = app_client
    answer = callback(client, start(client, "carol"))
    assert answer.status_code == 403  # type: ignore[attr-defined]
    assert "none of your groups (staff) gives access" in answer.text  # type: ignore[attr-defined]


def test_a_callback_with_another_state_is_refused(
    app_client: tuple[TestClient, ServerSettings],
) -> None:
    client, _ = app_client
    url = start(client, "bob")
    state = parse_qs(urlsplit(url).query)["state"][0]
    forged = url.replace(f"state={state}", "state=" + "x" * len(state))
    answer = callback(client, forged)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "state does not match" in answer.text  # type: ignore[attr-defined]
    # Nor may another browser (without the state cookie) use the right callback.
    client.cookies.clear()
    assert callback(client, url).status_code == 400  # type: ignore[attr-defined]


def test_a_replayed_callback_is_refused(app_client: tuple[TestClient, ServerSettings]) -> None:
    client, _ = app_client
    url = start(client, "bob")
    state_cookie = client.cookies.get("shadowmap_sso_state")
    assert callback(client, url).status_code == 200  # type: ignore[attr-defined]
    client.cookies.set("shadowmap_sso_state", state_cookie or "", path="/sso")
    again = callback(client, url)
    assert again.status_code == 400  # type: ignore[attr-defined]
    assert "unknown, used or expired sign-in state" in again.text  # type: ignore[attr-defined]


def test_the_local_admin_keeps_a_password_other_local_accounts_do_not(
    app_client: tuple[TestClient, ServerSettings],
) -> None:
    client, _ = app_client
    page = client.get("/login")
    assert "Sign in with single sign-on" in page.text
    for name, expected in (("admin", 303), ("victor", 401)):
        client.cookies.clear()
        page = client.get("/login")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        answer = client.post(
            "/login",
            data={"username": name, "password": PASSWORD, "csrf": csrf},
            follow_redirects=False,
        )
        assert answer.status_code == expected, name


def test_a_provider_user_cannot_take_over_a_local_account(
    app_client: tuple[TestClient, ServerSettings],
) -> None:
    client, _ = app_client
    answer = callback(client, start(client, "admin"))  # the provider's "admin" is not ours
    assert answer.status_code == 403  # type: ignore[attr-defined]
    assert "a local account named &#39;admin&#39; already exists" in answer.text  # type: ignore[attr-defined]


def test_a_forged_logout_token_is_refused(
    app_client: tuple[TestClient, ServerSettings], provider: OidcProvider
) -> None:
    client, _ = app_client
    forger = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
    claims = {
        "iss": provider.issuer,
        "aud": "shadowmap",
        "iat": int(time.time()),
        "jti": "x",
        "sub": "alice",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }
    token = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, forger)
    answer = client.post("/sso/backchannel-logout", data={"logout_token": token})
    assert answer.status_code == 400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(token: str, index: int) -> bytes:
    part = token.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
