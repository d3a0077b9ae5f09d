"""What the agent does to personal and secret data before anything leaves the host.

Usernames can be pseudonymised with a keyed HMAC; command lines, URLs and configuration values
are redacted so that evidence keeps the fact of use (an executable, a package, a host) and
never a key, a token or a prompt.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

REDACTED = "<redacted>"
FREE_TEXT = "<text>"

# Flags whose value is a secret, whether written "--token=x" or "--token x".
_SECRET_FLAG = re.compile(
    r"(?i)(api[-_]?key|apikey|token|secret|passw(or)?d|pwd|auth|bearer|credential|"
    r"private[-_]?key|access[-_]?key|session|cookie|signature|sig|client[-_]?secret|pat|"
    r"headers?)$"
)
# Values that look like keys or tokens wherever they appear.
_SECRET_VALUE = re.compile(
    r"(?x)"
    r"(sk-[A-Za-z0-9_-]{8,})"  # OpenAI / Anthropic style
    r"|(sk_(live|test)_[A-Za-z0-9]{8,})"
    r"|(gh[pousr]_[A-Za-z0-9]{16,})|(github_pat_[A-Za-z0-9_]{16,})"
    r"|(xox[abposr]-[A-Za-z0-9-]{8,})"
    r"|(AKIA[0-9A-Z]{16})|(AIza[0-9A-Za-z_-]{20,})"
    r"|(hf_[A-Za-z0-9]{16,})|(glpat-[A-Za-z0-9_-]{16,})"
    r"|(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"  # JWT
)
_HIGH_ENTROPY = re.compile(r"^[A-Za-z0-9+/_=-]{32,}$")
_ENV_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
# A plain token in a command line: a path, a package spec, a flag, a number.
_PLAIN = re.compile(r"^[\w@%+=:,./~\\-]{1,512}$")
MAX_ARGS = 32


def pseudonymise(user: str, key: bytes | str) -> str:
    """Return a stable pseudonym for a username under a secret key (HMAC-SHA-256).

    The same user on any host gives the same pseudonym under the same key, so findings can
    still be grouped per person without naming anyone. Raises ValueError for an empty key.
    """
    secret = key.encode() if isinstance(key, str) else key
    if not secret:
        raise ValueError("the pseudonymisation key must not be empty")
    digest = hmac.new(secret, user.casefold().encode(), hashlib.sha256).hexdigest()
    return f"user-{digest[:20]}"


_CREDENTIAL_WORDS = re.compile(r"(?i)(authorization|bearer|basic\s|x-api-key|api-key:)")


def looks_secret(value: str) -> bool:
    """Return True when a value looks like a key, token or password (or carries one)."""
    if _SECRET_VALUE.search(value) or _CREDENTIAL_WORDS.search(value):
        return True
    if _HIGH_ENTROPY.match(value) and not value.isalpha() and not value.isdigit():
        # Long runs of base64 or hex that mix letters and digits: keys, not words or paths.
        return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    return False


def redact_url(url: str) -> str:
    """Keep the scheme, host and port of a URL; drop user info, path, query and fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    return f"{parts.scheme}://{host}{port}"


def url_host(url: str) -> str | None:
    """Return the host name of a URL, or None when it has none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host or None


def redact_arg(arg: str) -> str:
    """Return one command-line argument with any secret value or free text replaced."""
    if "://" in arg:
        return redact_url(arg)
    if arg.startswith("-") and "=" in arg:
        flag, _, value = arg.partition("=")
        if _SECRET_FLAG.search(flag.lstrip("-")) or looks_secret(value):
            return f"{flag}={REDACTED}"
        return f"{flag}={redact_arg(value)}" if value else arg
    assignment = _ENV_ASSIGNMENT.match(arg)
    if assignment:  # NAME=value, as in "env OPENAI_API_KEY=... cmd"
        return f"{assignment.group(1)}={REDACTED}"
    if looks_secret(arg):
        return REDACTED
    if not _PLAIN.match(arg):
        return FREE_TEXT  # spaces, quotes, newlines: a prompt or a message, never collected
    return arg


def redact_args(args: Sequence[str], *, limit: int = MAX_ARGS) -> list[str]:
    """Redact a command line: secrets and free text go, the shape of the command stays."""
    redacted: list[str] = []
    secret_next = False
    for arg in args[:limit]:
        if secret_next:
            redacted.append(REDACTED)
            secret_next = False
            continue
        if arg == "-H" or (
            arg.startswith("-") and "=" not in arg and _SECRET_FLAG.search(arg.lstrip("-"))
        ):
            redacted.append(arg)
            secret_next = True
            continue
        redacted.append(redact_arg(arg)[:1024])
    if len(args) > limit:
        redacted.append(f"<{len(args) - limit} more>")
    return redacted


def names_only(mapping_keys: Iterable[object]) -> list[str]:
    """Return the names of a mapping (environment variables, headers) without their values."""
    return sorted(str(key)[:128] for key in mapping_keys)[:64]


def pseudonymise_evidence(
    evidence: Mapping[str, object], user: str, pseudonym: str
) -> dict[str, object]:
    """Replace a username wherever it is a path segment of an evidence value.

    Paths such as ``/home/alice/.config/...`` or ``C:\\Users\\alice\\AppData`` would name the
    user a pseudonym hides; other text is left alone.
    """
    segment = re.compile(rf"(?<=[/\\]){re.escape(user)}(?=[/\\]|$)")

    def scrub(value: object) -> object:
        if isinstance(value, str):
            return segment.sub(pseudonym, value)
        if isinstance(value, list):
            return [scrub(item) for item in value]
        return value

    return {key: scrub(value) for key, value in evidence.items()}
