"""What an extension's own words say: AI brand and product tokens, read with word boundaries.

The heuristics read a browser extension's name, short name and description, and an IDE
extension's display name and description, through :func:`ai_terms`. A text is split into words
at spaces, punctuation and camel-case joins ("WebChatGPT" -> web, chat, gpt), so "Said",
"Mail", "Aim" and "Paint" never give "ai". Two strengths of token:

* strong: a word that names AI whatever the context (ChatGPT, GPT-4o, OpenAI, DeepSeek, LLM,
  "AI" written as a word, "artificial intelligence", "generative AI"...);
* brand: an AI product's name that is also something else (Gemini the crypto exchange,
  Claude a first name, Copilot a flight or car app, Grok "to understand"): it counts unless
  a trap word places it elsewhere (wallet, exchange, flight, Monet...);
* ambiguous: a word that is mostly something else (Llama the animal, Bard a poet, Mistral a
  wind, Kimi a first name): it counts only when the same text or another signal says AI too,
  and never next to a trap word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Whole words that name AI on their own (lower case; matched against folded words).
STRONG_WORDS = frozenset(
    {
        "chatgpt",
        "openai",
        "deepseek",
        "anthropic",
        "llm",
        "llms",
        "gpts",
        "chatbot",
        "chatbots",
        "midjourney",
        "ollama",
        "qwen",
        "huggingface",
        "genai",
        "aigc",
        "dall-e",
        "dalle",
    }
)
# AI product names that are also other things (Gemini the crypto exchange, Claude a first
# name, Copilot a flight or car app): in an extension's name or description they name the AI
# product unless a trap word places them elsewhere.
BRAND_WORDS = frozenset({"claude", "gemini", "copilot", "grok", "perplexity"})
# Words that name AI only when something else says AI too (the animal, the poet, the wind).
AMBIGUOUS_WORDS = frozenset({"bard", "llama", "mistral", "kimi"})
# Brand words that, written inside a longer word, still name it ("AmazonGPT", "MyChatGPT").
_EMBEDDED = ("chatgpt", "openai", "deepseek")
# "GPT", "GPT4", "GPT-4o", "GPT3.5": the model family, a word of its own or a word's tail.
_GPT = re.compile(r"^(?:chat)?gpt(?:\d+(?:\.\d+)?[a-z]?|[a-z])?$")
# Phrases (lower case, words joined by one space) that say AI.
STRONG_PHRASES = (
    "artificial intelligence",
    "generative ai",
    "large language model",
    "large language models",
    "language model",
    "chat gpt",
    "open ai",
    "deep seek",
    "claude code",
)
# Chinese: "artificial intelligence" says AI; "assistant", "smart", "summary" are context.
_CJK_STRONG = ("人工智能",)
_CJK_CONTEXT = ("助手", "智能", "总结", "摘要")
# Words that place an ambiguous brand elsewhere: a crypto exchange or wallet, a trip, a car.
TRAP_WORDS = frozenset(
    {
        "wallet",
        "exchange",
        "crypto",
        "bitcoin",
        "btc",
        "eth",
        "ethereum",
        "defi",
        "nft",
        "trading",
        "trade",
        "coin",
        "coins",
        "horoscope",
        "zodiac",
        "astrology",
        "flight",
        "flights",
        "aviation",
        "pilot",
        "car",
        "cars",
        "automotive",
        "vehicle",
        "driving",
        "money",
        "budget",
        "debussy",
        "monet",
        "bernard",
        "shannon",
    }
)
# Words that say an ambiguous brand is the AI product ("Gemini assistant", "Claude chat").
AI_CONTEXT_WORDS = frozenset(
    {
        "ai",
        "assistant",
        "chat",
        "prompt",
        "prompts",
        "model",
        "models",
        "sidebar",
        "summarize",
        "summarise",
        "summary",
        "summarizer",
        "ask",
        "anthropic",
        "google",
        "microsoft",
        "github",
        "xai",
        "meta",
        "sonnet",
        "opus",
        "haiku",
        "pro",
        "agent",
        "agents",
        "search",
        "powered",
        "writer",
        "writing",
        "generate",
        "generator",
        "generation",
        "completion",
        "completions",
        "autocomplete",
        "coding",
        "copilot",
    }
)
# "AI to SVG", "PNG to AI", "AI file": Adobe Illustrator's file format, not intelligence.
_FILE_FORMATS = "jpe?g|png|svg|eps|psd|pdf|cdr|dxf|webp|gif|tiff?|bmp|dwg|emf|wmf|ico|heic"
_AI_FORMAT = re.compile(
    rf"\b(?:(?:{_FILE_FORMATS})\s+to\s+AI|AI\s+to\s+(?:{_FILE_FORMATS})|AI\s+files?)\b"
    r"|\billustrator\b",
    re.IGNORECASE,
)
# "AI" as a word in capitals ("Merlin AI", "A.I.", "AIs"), or a camel-case tail ("WriterAI").
_AI_WORD = re.compile(r"(?<![A-Za-z])A\.?I(?:s)?(?![A-Za-z])|(?<=[a-z])AI(?![A-Za-z])")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+[A-Za-z]?")


@dataclass(frozen=True, slots=True)
class Terms:
    """The AI tokens found in a text: strong ones, ambiguous ones, and trap and context words."""

    strong: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()
    traps: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    # "AI" (or "artificial intelligence") within two words of a task word: said of what the
    # thing does ("your AI writing assistant"), not of a topic ("a course on AI").
    ai_task: bool = False

    def says_ai(self, *, corroborated: bool = False) -> str | None:
        """Return the token that makes this text say AI, or None.

        A brand counts unless a trap word is there too; an ambiguous word needs a context word
        here or ``corroborated`` (another signal), and no trap word.
        """
        if self.strong:
            return self.strong[0]
        if self.traps:
            return None
        if self.brands:
            return self.brands[0]
        if self.ambiguous and (self.context or corroborated):
            return self.ambiguous[0]
        return None


def words(text: str) -> list[str]:
    """Split a text into folded words, at punctuation and at camel-case joins."""
    found: list[str] = []
    for raw in _WORD.findall(text):
        found.append(raw.lower())
        parts = []
        for piece in re.split(r"[-']", raw):
            parts += _CAMEL.findall(piece)
        if len(parts) > 1:
            found += [part.lower() for part in parts]
    return found


def ai_terms(text: str | None) -> Terms:
    """Return the AI tokens of a name or description (see the module docstring)."""
    if not text:
        return Terms()
    strong: list[str] = []
    brands: list[str] = []
    ambiguous: list[str] = []
    traps: list[str] = []
    context: list[str] = []
    # "AI" counts written as a word in capitals ("Merlin AI", "AI-powered", "HyperWriteAI"),
    # never the Italian or Japanese "ai", nor "Ai" inside "Mail", "Said" or "Aim".
    if not _AI_FORMAT.search(text) and re.search(
        r"(?<![A-Za-z])A\.?I(?:s)?(?![A-Za-z])|(?<=[a-z])AI(?![A-Za-z])", text
    ):
        strong.append("ai")
    # ".ai" as a domain in a name ("Merlin - ChatGPT by foyer.ai"): a product of an AI company.
    if re.search(r"[a-z0-9]\.ai\b", text, re.IGNORECASE):
        strong.append(".ai")
    folded = text.lower()
    for word in words(text):
        if word in STRONG_WORDS or _GPT.match(word):
            strong.append(word)
        elif word in BRAND_WORDS:
            brands.append(word)
        elif word in AMBIGUOUS_WORDS:
            ambiguous.append(word)
        elif any(brand in word for brand in _EMBEDDED) or word.endswith("gpt"):
            strong.append(word)
        if word in TRAP_WORDS:
            traps.append(word)
        if word in AI_CONTEXT_WORDS:
            context.append(word)
    spaced = " ".join(_WORD.findall(folded))
    strong += [phrase for phrase in STRONG_PHRASES if f" {phrase} " in f" {spaced} "]
    strong += [phrase for phrase in _CJK_STRONG if phrase in text]
    context += [phrase for phrase in _CJK_CONTEXT if phrase in text]
    return Terms(
        ai_task=_ai_near_task(text),
        strong=tuple(dict.fromkeys(strong)),
        brands=tuple(dict.fromkeys(brands)),
        ambiguous=tuple(dict.fromkeys(ambiguous)),
        traps=tuple(dict.fromkeys(traps)),
        context=tuple(dict.fromkeys(context)),
    )


# Context words too loose to tie "AI" to a task next to it.
_LOOSE_CONTEXT = frozenset({"ai", "search", "pro", "meta", "google", "microsoft", "github"})
_PLAIN_WORD = re.compile(r"[A-Za-z0-9]+")
_USING = frozenset({"with", "using", "uses", "by", "via"})


def _ai_near_task(text: str) -> bool:
    """Return whether "AI" stands within two words of a task word in ``text``."""
    if _AI_FORMAT.search(text):
        return False
    tokens = _PLAIN_WORD.findall(text)
    folded = [token.lower() for token in tokens]
    task = AI_CONTEXT_WORDS - _LOOSE_CONTEXT
    for index, token in enumerate(tokens):
        is_ai = token in ("AI", "AIs") or (
            folded[index] == "intelligence" and index > 0 and folded[index - 1] == "artificial"
        )
        if not is_ai:
            continue
        if any(word in task for word in folded[max(0, index - 2) : index + 3]):
            return True
        start = index - 1 if tokens[index] != "intelligence" else index - 2
        if start >= 0 and folded[start] in _USING:
            return True  # "with AI", "powered by AI", "using artificial intelligence"
    return False
