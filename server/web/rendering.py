"""What every page handler shares: rendering a template for the signed-in user, the CSRF check
of a posted form, the post/redirect/get answer and the form fields most forms carry."""

from __future__ import annotations

import datetime as dt
import hmac
import json
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from server.errors import CsrfFailed, GuardFailed
from server.state import AppState
from server.web.deps import SignedIn

#: The session's CSRF token, posted by every state-changing form.
Csrf = Annotated[str, Form(max_length=64)]
#: A free-text reason for a change, as the audit trail keeps it.
Reason = Annotated[str, Form(max_length=4000)]


class JSONAnswer(JSONResponse):
    """The API's JSON response: as FastAPI's, except that text which cannot be encoded as
    UTF-8 (a lone surrogate stored by an older release) is sent as a JSON escape instead of
    failing the response with a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


def render_page(
    state: AppState,
    request: Request,
    name: str,
    who: SignedIn | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render template ``name`` for ``who`` (None on the sign-in page) with ``context``."""
    context.update(
        request=request,
        user=who.user if who else None,
        csrf_token=who.web_session.csrf_token if who else "",
        can_edit=bool(who and who.user.role in ("reviewer", "admin")),
    )
    return state.templates.TemplateResponse(request, name, context, status_code=status)


def check_csrf(who: SignedIn, token: str) -> None:
    """Refuse a form or API write that lacks the session's CSRF token; raises CsrfFailed."""
    if not hmac.compare_digest(who.web_session.csrf_token, token):
        raise CsrfFailed()


def see_other(url: str) -> RedirectResponse:
    """The answer to a posted form: go (GET) to ``url``."""
    return RedirectResponse(url, status_code=303)


def parse_day(value: str | None, field: str) -> dt.datetime | None:
    """Return the start (UTC) of a YYYY-MM-DD day from a form or query; raises GuardFailed."""
    if not value:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
    except ValueError as exc:
        raise GuardFailed(field, "use a date like 2026-11-27") from exc
