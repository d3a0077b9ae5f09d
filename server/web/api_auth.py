"""API callers: bearer API tokens with scopes, or signed-in browser sessions with roles, on
the same /api/v1 endpoints; per-caller token-bucket rate limits and request-size limits."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.errors import AuthenticationFailed
from collector.store import tokens as tokens_store
from collector.store import users
from collector.store.tokens import SCOPES
from server.config import ServerSettings
from server.errors import CsrfFailed, Forbidden, NotAuthenticated, RateLimited
from server.web.deps import SESSION_COOKIE, DbSession

_READ_SCOPES = frozenset(
    {"inventory:read", "hosts:read", "reports:read", "register:read", "aims:read"}
)
#: What a signed-in user's role lets them do through the API.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": _READ_SCOPES,
    "reviewer": _READ_SCOPES | {"inventory:write", "register:write", "aims:write"},
    "admin": frozenset(SCOPES),
}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="An API token: `Bearer smapi_...`")


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who is calling the API and what they may do."""

    kind: Literal["token", "session"]
    name: str
    scopes: frozenset[str]
    token_id: int | None = None
    user_id: int | None = None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def actor(self) -> str:
        """The name the audit trail records for this caller (its actor column holds 64)."""
        if self.kind == "session":
            return self.name
        return f"api-token:{self.token_id}:{self.name}"[:64]

    @property
    def rate_key(self) -> str:
        return f"token:{self.token_id}" if self.kind == "token" else f"user:{self.user_id}"


class TokenBucket:
    """Per-caller token buckets: ``rate`` tokens a second up to ``burst`` (one process)."""

    def __init__(self, *, rate_per_second: float, burst: int) -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, *, now: float | None = None) -> float:
        """Take one token for ``key``; return 0 if allowed, else seconds until one is free."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, moment))
            tokens = min(self.burst, tokens + (moment - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, moment)
                return 0.0
            self._buckets[key] = (tokens, moment)
            return (1 - tokens) / self.rate


def _limiter(request: Request) -> TokenBucket:
    limiter: TokenBucket = request.app.state.api_limiter
    return limiter


def _authenticate(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiCaller:
    if credentials is not None:
        if credentials.scheme.lower() != "bearer":
            raise AuthenticationFailed("use Authorization: Bearer <API token>")
        token = tokens_store.authenticate_api_token(session, secret=credentials.credentials.strip())
        return ApiCaller(
            kind="token", name=token.name, scopes=frozenset(token.scopes), token_id=token.id
        )
    cookie = request.cookies.get(SESSION_COOKIE)
    web_session = users.get_web_session(session, token=cookie) if cookie else None
    if web_session is None:
        raise NotAuthenticated()
    if (
        request.method not in _SAFE_METHODS
        and request.headers.get("x-csrf-token", "") != web_session.csrf_token
    ):
        raise CsrfFailed()
    user = web_session.user
    return ApiCaller(
        kind="session",
        name=user.username,
        scopes=ROLE_SCOPES.get(user.role, frozenset()),
        user_id=user.id,
    )


def require_scope(scope: str, *more: str) -> Any:
    """Return a dependency admitting API tokens holding ``scope`` (and every scope in
    ``more``) and users whose role grants them; raises NotAuthenticated,
    AuthenticationFailed, Forbidden or RateLimited."""
    needed = (scope, *more)
    for name in needed:
        if name not in SCOPES:
            raise ValueError(f"unknown scope {name!r}")

    def check(request: Request, caller: Annotated[ApiCaller, Depends(_authenticate)]) -> ApiCaller:
        wait = _limiter(request).take(caller.rate_key)
        if wait > 0:
            raise RateLimited(wait)
        missing = [name for name in needed if not caller.allows(name)]
        if missing:
            raise Forbidden(f"this needs the {' and '.join(missing)} scope")
        return caller

    return Depends(check)


InventoryReader = Annotated[ApiCaller, require_scope("inventory:read")]
HostsReader = Annotated[ApiCaller, require_scope("hosts:read")]
ReportsReader = Annotated[ApiCaller, require_scope("reports:read")]
RegisterReader = Annotated[ApiCaller, require_scope("register:read")]
RegisterWriter = Annotated[ApiCaller, require_scope("register:write")]
#: Suppliers combine the register's suppliers with the inventory's vendors.
RegisterAndInventoryReader = Annotated[ApiCaller, require_scope("register:read", "inventory:read")]
#: The AI management system: read it; record assessments, incidents, training and sign-offs;
#: set scope, policies, routes, templates, the SoA and objectives.
AimsReader = Annotated[ApiCaller, require_scope("aims:read")]
AimsWriter = Annotated[ApiCaller, require_scope("aims:write")]
AimsAdmin = Annotated[ApiCaller, require_scope("aims:admin")]
ApiAdmin = Annotated[ApiCaller, require_scope("admin")]
WebhooksAdmin = Annotated[ApiCaller, require_scope("webhooks:admin")]

#: Responses every authenticated API route can give, for the OpenAPI document.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API token or session"},
    403: {"description": "The token's scopes or the user's role do not allow this"},
    429: {"description": "Rate limit exceeded; see Retry-After"},
}


class BodyLimit:
    """ASGI middleware: refuse /api/v1 request bodies over ``limit`` bytes with 413, whether
    announced by Content-Length or streamed. Agent report uploads have their own limit."""

    def __init__(self, app: ASGIApp, *, limit: int, exempt: tuple[str, ...]) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith("/api/v1/")
            or path.startswith(self.exempt)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        # API bodies are small: read the whole body first (up to the limit), then replay it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], None, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"error": "request too large", "detail": f"body larger than {self.limit} bytes"},
            status_code=413,
        )
        await response(scope, receive, send)


def _replay(messages: list[Message], last: Message | None, receive: Receive) -> Receive:
    pending = [*messages, *([last] if last is not None else [])]

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def install(app: FastAPI, settings: ServerSettings) -> None:
    """Give the app its rate limiter and request-size limit."""
    app.state.api_limiter = TokenBucket(
        rate_per_second=settings.api_rate_per_minute / 60, burst=settings.api_burst
    )
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes, exempt=("/api/v1/agents/",))
