"""The one place where domain errors become HTTP responses."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError

from collector.errors import (
    AuthenticationFailed,
    Conflict,
    EnrollmentRefused,
    NotFound,
    ReportRejected,
    StorageError,
)
from server.errors import (
    CsrfFailed,
    DeliveryFailed,
    DestinationRefused,
    Forbidden,
    GuardFailed,
    InvalidInput,
    InvalidTransition,
    NotAuthenticated,
    RateLimited,
    RequestTooLarge,
    StaleVersion,
)

log = logging.getLogger(__name__)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": title, "detail": detail}, status_code=status)


def _html_problem(request: Request, status: int, title: str, detail: str) -> Response:
    """Render a domain error as a page for people, as JSON for programs."""
    if not _wants_html(request):
        return _problem(status, title, detail)
    templates = request.app.state.shadowmap.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "error.html",
        {"request": request, "user": None, "title": title, "detail": detail, "status": status},
        status_code=status,
    )


def _plain(message: str) -> str:
    """Say a validation message without the patterns it may quote."""
    if "should match pattern" in message:
        return "contains characters that are not allowed here"
    return message.removeprefix("Value error, ")[:200]


def install(app: FastAPI) -> None:
    """Register the handlers that map every domain error to a status."""

    @app.exception_handler(ReportRejected)
    async def _rejected(request: Request, exc: ReportRejected) -> Response:
        status = 413 if exc.too_large else 415 if exc.media_type else 422
        return _problem(status, "report rejected", str(exc))

    @app.exception_handler(EnrollmentRefused)
    async def _refused(request: Request, exc: EnrollmentRefused) -> Response:
        return _problem(403, "enrollment refused", exc.reason)

    @app.exception_handler(AuthenticationFailed)
    async def _auth(request: Request, exc: AuthenticationFailed) -> Response:
        response = _problem(401, "unauthenticated", exc.reason)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(NotAuthenticated)
    async def _not_signed_in(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_html(request):
            return RedirectResponse("/login", status_code=303)
        return _problem(401, "unauthenticated", "sign in first")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _html_problem(request, 403, "forbidden", exc.reason)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        return _html_problem(
            request, 403, "forbidden", "missing or wrong CSRF token; reload the page"
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _html_problem(request, 404, "not found", str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return _html_problem(request, 409, "conflict", exc.reason)

    @app.exception_handler(GuardFailed)
    async def _guard(request: Request, exc: GuardFailed) -> Response:
        if _wants_html(request):
            response = _html_problem(request, 422, "not allowed yet", str(exc))
        else:
            # The shape of FastAPI's own 422, so that API clients parse one kind of error.
            location = ["body", *exc.field.split(".")]
            problem = {"loc": location, "msg": exc.reason, "type": "guard_failed"}
            response = JSONResponse(
                {"error": "not allowed yet", "detail": [problem]}, status_code=422
            )
        response.headers["X-Shadowmap-Field"] = exc.field
        return response

    @app.exception_handler(DestinationRefused)
    async def _destination(request: Request, exc: DestinationRefused) -> Response:
        # The address and its class go to the log only: the answer must not map the network.
        log.info("refused outbound destination %s (%s)", exc.host, exc.address_class)
        problem = {"loc": ["body", "url"], "msg": str(exc), "type": "destination_refused"}
        return JSONResponse({"error": "destination refused", "detail": [problem]}, status_code=422)

    @app.exception_handler(InvalidTransition)
    async def _transition(request: Request, exc: InvalidTransition) -> Response:
        return _html_problem(request, 409, "invalid state change", str(exc))

    @app.exception_handler(StaleVersion)
    async def _stale(request: Request, exc: StaleVersion) -> Response:
        return _html_problem(request, 409, "changed by someone else", str(exc))

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> Response:
        response = _problem(429, "too many requests", str(exc))
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response

    @app.exception_handler(RequestTooLarge)
    async def _too_large(request: Request, exc: RequestTooLarge) -> Response:
        return _problem(413, "request too large", str(exc))

    @app.exception_handler(DeliveryFailed)
    async def _delivery(request: Request, exc: DeliveryFailed) -> Response:
        # An email or webhook sent while answering (policy reminders): the peer failed.
        return _html_problem(request, 502, "delivery failed", str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return _problem(400, "invalid input", str(exc))

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        # A value the database cannot hold (NUL in PostgreSQL text, a number out of range)
        # that no field check caught: the transaction is rolled back, the caller told why.
        log.warning("refused a value the database cannot store: %s", exc.orig)
        return _html_problem(
            request, 400, "invalid input", "a value cannot be stored (control character?)"
        )

    @app.exception_handler(RequestValidationError)
    async def _unparsable(request: Request, exc: RequestValidationError) -> Response:
        # Programs keep FastAPI's 422 JSON; people get a page that says what was wrong in
        # words (the field, not its regular expression).
        if not _wants_html(request):
            return await request_validation_exception_handler(request, exc)
        problems = []
        for error in exc.errors()[:5]:
            where = " ".join(str(part) for part in error.get("loc", ())[1:]) or "the request"
            problems.append(f"{where.replace('_', ' ')}: {_plain(str(error.get('msg', '')))}")
        return _html_problem(
            request, 422, "this address or form was not understood", "; ".join(problems)
        )

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> Response:
        log.error("storage error: %s", exc)
        return _problem(503, "storage unavailable", "the database is unavailable; retry later")
