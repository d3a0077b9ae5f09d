"""The one DNS-name judge: does a name belong to an AI service, by the catalogue or by a guess.

Live capture, capture files, the scanners (through the agent's runner), server-side log import
and ``shadowmap signatures match --kind domain`` all ask :func:`judge_name`, so one name gets
one verdict (service, confidence and reason) wherever it was seen.

A name is first put in the form it is resolved in: lower case, no root dot, and international
names in their ASCII (IDNA) form, so ``ChatGPT.com.``, ``chatgpt.com`` and the same name typed
in full-width letters are one name. The catalogue decides first (the most specific entry
wins, see :mod:`signatures.matcher`); a name it does not know is flagged, with low confidence,
only when a label token says AI unambiguously (``llm``, ``gpt``, ``openai``...), a label is
``ai`` itself (``ai.com``, never the top-level domain), a label token begins with a brand
(``openaiassets``), or an API-style first label sits under ``.ai``. Words that also name
other things (``gemini``, a crypto exchange; ``llama``; ``copilot``) never count on their own;
nor do reverse lookups and local names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from signatures.matcher import Match, Matcher
from signatures.model import IndicatorKind
from signatures.wire import Confidence

# Label tokens that say AI whatever the rest of the name is: a whole label, or a part of one
# between dashes or underscores ("gpt" flags "gpt-proxy.example", never "egypt.example").
NAME_TOKENS = frozenset(
    {
        "anthropic",
        "chatgpt",
        "deepseek",
        "elevenlabs",
        "genai",
        "gpt",
        "groq",
        "huggingface",
        "langchain",
        "litellm",
        "llm",
        "llms",
        "midjourney",
        "ollama",
        "openai",
        "openrouter",
        "vllm",
    }
)
# A whole label "ai" below the top-level domain ("ai.com", "ai.azure.com"), never the TLD.
_AI_LABEL = "ai"
# Brands a label may begin with ("openaiassets", "production-openaicom-storage"); a brand
# inside a word ("evilchatgpt") is a look-alike, not the service, and is not flagged.
BRAND_PREFIXES = ("openai", "chatgpt", "anthropic", "deepseek")
# First labels that make a name under the .ai top-level domain look like an API endpoint.
API_LABELS = frozenset({"api", "inference", "llm", "gateway", "router", "models", "chat"})
# Reverse lookups and names that never leave the local network.
IGNORED_SUFFIXES = (".arpa", ".local", ".localdomain", ".internal", ".lan")
_TOKEN_SPLIT = re.compile(r"[-_]+")


@dataclass(frozen=True, slots=True)
class NameVerdict:
    """Why a DNS name is kept: the catalogue entry it matched, or the heuristic that fired."""

    name: str  # the name as judged: lower case, ASCII, without the root dot
    match: Match | None = None
    heuristic: str | None = None  # set when no catalogue entry matched

    @property
    def service_id(self) -> str | None:
        return self.match.service_id if self.match is not None else None

    @property
    def indicator_kind(self) -> IndicatorKind:
        """The kind of catalogue indicator that matched (a guess counts as a domain)."""
        return self.match.kind if self.match is not None else IndicatorKind.DOMAIN

    @property
    def confidence(self) -> Confidence:
        return Confidence(self.match.confidence) if self.match is not None else Confidence.LOW

    @property
    def matched(self) -> str | None:
        """The catalogue indicator as findings record it (``host:api.openai.com``), or None."""
        if self.match is None:
            return None
        return f"{self.match.kind.value}:{self.match.indicator}"

    @property
    def reason(self) -> str:
        """Why the name is kept: the catalogue indicator, else the heuristic's reason."""
        return self.matched or self.heuristic or ""


def normalise_name(name: str) -> str | None:
    """Return a DNS name in the form it is resolved in, or None when it is no usable name."""
    host = name.strip().rstrip(".")
    if host.isascii():
        host = host.lower()
    else:
        try:  # IDNA 2003 (Python's codec): case-folds and maps full-width forms as resolvers do
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host or None


def judge_name(matcher: Matcher, name: str) -> NameVerdict | None:
    """Return why a DNS or TLS server name belongs to an AI service, or None to drop it."""
    host = normalise_name(name)
    if host is None:
        return None
    match = matcher.match_domain(host)
    if match is not None:
        return NameVerdict(host, match=match)
    reason = _guess(host)
    return NameVerdict(host, heuristic=reason) if reason is not None else None


def _guess(host: str) -> str | None:
    """Return the reason a name the catalogue does not know looks like an AI API, or None."""
    if host.endswith(IGNORED_SUFFIXES):
        return None
    labels = host.split(".")
    if len(labels) < 2:
        return None
    for label in labels[:-1]:  # never the top-level domain: "foo.gpt" is not flagged
        if label.startswith("xn--"):
            # An international label's ASCII form is an encoding: read the words it encodes.
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                continue
        if label == _AI_LABEL:
            return "dns-name-token:ai"
        for token in _TOKEN_SPLIT.split(label):
            if token in NAME_TOKENS:
                return f"dns-name-token:{token}"
            brand = next((brand for brand in BRAND_PREFIXES if token.startswith(brand)), None)
            if brand is not None:
                return f"dns-name-prefix:{brand}"
    if labels[-1] == "ai" and len(labels) >= 3 and labels[0] in API_LABELS:
        return f"dns-ai-api-label:{labels[0]}"
    return None
