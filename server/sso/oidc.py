"""The OpenID Connect relying party: discovery, the authorization request (code flow with
PKCE S256, state and nonce), the code exchange, and the checks of ID tokens and back-channel
logout tokens against the provider's published keys (JWKS), with joserfc.

Every check the core and back-channel logout specifications ask of a relying party is made
here; anything that fails one raises SsoRefused and nothing is trusted from it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from server.sso.errors import ProviderUnavailable, SsoRefused

#: Signature algorithms accepted on ID tokens (never "none", never a MAC keyed by the secret).
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_TOKEN_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """What the relying party is told about itself and its provider (from the settings)."""

    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str
    post_logout_redirect_uri: str
    scopes: str = "openid profile email"
    clock_skew_seconds: int = 60
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A sign-in on its way to the provider: where to send the browser, and the secrets to
    keep until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in (the checked ID token's claims)."""

    issuer: str
    subject: str
    session_id: str | None
    claims: dict[str, Any]


@dataclass(slots=True)
class OidcClient:
    """One provider: its discovery document and keys, fetched on first use."""

    config: ProviderConfig
    http: httpx.Client = field(default_factory=lambda: httpx.Client(follow_redirects=False))
    now: Callable[[], float] = time.time
    _metadata: dict[str, Any] | None = None
    _keys: KeySet | None = None

    # Discovery -------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document; its issuer must be the configured one."""
        if self._metadata is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = self._get_json(url)
            if document.get("issuer") != self.config.issuer:
                raise ProviderUnavailable(
                    f"the discovery document names issuer {document.get('issuer')!r}, "
                    f"not {self.config.issuer!r}"
                )
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(name), str):
                    raise ProviderUnavailable(f"the discovery document has no {name}")
            self._metadata = document
        return self._metadata

    def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (fetched again when a token names an unknown key)."""
        if self._keys is None or refresh:
            document = self._get_json(self.metadata()["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise ProviderUnavailable(f"the provider's JWKS cannot be read: {exc}") from exc
        return self._keys

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, timeout=self.config.timeout_seconds)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"cannot reach {url}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError as exc:
            raise ProviderUnavailable(f"{url} did not answer JSON") from exc
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"{url} did not answer a JSON object")
        return document

    # The authorization request ---------------------------------------------------------------

    def authorization_request(self) -> AuthorizationRequest:
        """Build the redirect to the provider: code flow, PKCE S256, fresh state and nonce."""
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": self.config.redirect_uri,
                "scope": self.config.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        endpoint = self.metadata()["authorization_endpoint"]
        separator = "&" if urlsplit(endpoint).query else "?"
        return AuthorizationRequest(f"{endpoint}{separator}{query}", state, nonce, verifier)

    def end_session_url(self) -> str | None:
        """Where to send the browser to end the provider's session (RP-initiated logout), or
        None when the provider does not offer it."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "post_logout_redirect_uri": self.config.post_logout_redirect_uri,
            }
        )
        return f"{endpoint}{'&' if urlsplit(endpoint).query else '?'}{query}"

    # The code exchange -----------------------------------------------------------------------

    def exchange_code(self, code: str, *, code_verifier: str) -> str:
        """Trade an authorization code for the ID token (raw); raises SsoRefused when the
        provider refuses the code (used, expired, PKCE mismatch)."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "code_verifier": code_verifier,
            "client_id": self.config.client_id,
        }
        auth: httpx.Auth | None = None
        if self.config.client_secret is not None:
            auth = httpx.BasicAuth(self.config.client_id, self.config.client_secret)
        try:
            response = self.http.post(
                self.metadata()["token_endpoint"],
                data=data,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                timeout=self.config.timeout_seconds,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"cannot reach the token endpoint: {type(exc).__name__}"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            error = body.get("error", f"HTTP {response.status_code}") if body else "no answer"
            raise SsoRefused(f"the provider refused the authorization code ({error})")
        token = body.get("id_token")
        if not isinstance(token, str):
            raise SsoRefused("the provider's token response has no ID token")
        return token

    # Token checks ----------------------------------------------------------------------------

    def verify_id_token(self, token: str, *, nonce: str) -> Identity:
        """Check an ID token: signature by a provider key with an accepted algorithm, issuer,
        audience (and authorized party), expiry, issue time and nonce; raises SsoRefused."""
        claims = self._verified_claims(token)
        self._check_times(claims)
        if claims.get("nonce") != nonce:
            raise SsoRefused("the ID token's nonce is not the one this sign-in sent")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise SsoRefused("the ID token has no subject")
        sid = claims.get("sid")
        return Identity(
            issuer=self.config.issuer,
            subject=subject,
            session_id=sid if isinstance(sid, str) else None,
            claims=claims,
        )

    def verify_logout_token(self, token: str) -> tuple[str | None, str | None]:
        """Check a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, section
        2.6); return its (subject, session id); raises SsoRefused."""
        claims = self._verified_claims(token)
        self._check_times(claims, expiry_required=False)
        events = claims.get("events")
        if not isinstance(events, Mapping) or BACKCHANNEL_EVENT not in events:
            raise SsoRefused("the logout token has no back-channel logout event")
        if "nonce" in claims:
            raise SsoRefused("a logout token must not carry a nonce")
        if not isinstance(claims.get("jti"), str):
            raise SsoRefused("the logout token has no jti")
        subject = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
        if subject is None and sid is None:
            raise SsoRefused("the logout token names neither a subject nor a session")
        return subject, sid

    def _verified_claims(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_BYTES:
            raise SsoRefused("the token is too large")
        header = _header(token)
        algorithm = header.get("alg")
        if algorithm not in SIGNING_ALGORITHMS:
            raise SsoRefused(f"the token is not signed with an accepted algorithm ({algorithm})")
        keys = self.keys()
        if header.get("kid"):
            try:
                keys.get_by_kid(str(header["kid"]))
            except JoseError:
                keys = self.keys(refresh=True)  # the provider may have rotated its keys
        try:
            decoded = jwt.decode(token, keys, algorithms=SIGNING_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise SsoRefused(
                f"the token's signature does not verify ({type(exc).__name__})"
            ) from exc
        claims = dict(decoded.claims)
        if claims.get("iss") != self.config.issuer:
            raise SsoRefused("the token was issued by another issuer")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or self.config.client_id not in audiences:
            raise SsoRefused("the token is meant for another audience")
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise SsoRefused("the token's authorized party is another client")
        return claims

    def _check_times(self, claims: Mapping[str, Any], *, expiry_required: bool = True) -> None:
        now = self.now()
        skew = self.config.clock_skew_seconds
        expiry = claims.get("exp")
        if expiry_required and not isinstance(expiry, (int, float)):
            raise SsoRefused("the token has no expiry")
        if isinstance(expiry, (int, float)) and now > expiry + skew:
            raise SsoRefused("the token has expired")
        issued = claims.get("iat")
        if not isinstance(issued, (int, float)):
            raise SsoRefused("the token has no issue time")
        if issued > now + skew:
            raise SsoRefused("the token was issued in the future")

    def close(self) -> None:
        self.http.close()


def _header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact token, read without trusting it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise SsoRefused("the token is not a signed JWT")
    try:
        padded = parts[0] + "=" * (-len(parts[0]) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError as exc:
        raise SsoRefused("the token's header cannot be read") from exc
    if not isinstance(header, dict):
        raise SsoRefused("the token's header is not an object")
    return header
