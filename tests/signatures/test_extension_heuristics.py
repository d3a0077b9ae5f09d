"""What an extension says it is: brand and product tokens with word boundaries, trap words,
descriptions, homepages, side panels, and what an IDE extension's manifest declares."""

from __future__ import annotations

import pytest

from signatures import IndicatorKind, Matcher, assess
from signatures.wording import ai_terms

BROWSER = IndicatorKind.BROWSER_EXTENSION
IDE = IndicatorKind.IDE_EXTENSION


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Merlin AI", "ai"),
        ("HyperWriteAI", "ai"),
        ("AI-powered writing", "ai"),
        ("WebChatGPT", "webchatgpt"),
        ("TinaMind - The GPT-4o-powered Assistant", "gpt"),
        ("AmazonGPT", "amazongpt"),
        ("Chat GPT 5 (easytool)", "gpt"),
        ("Claude Exporter: Save chats as PDF", "claude"),
        ("Side Panel for Gemini", "gemini"),
        ("Bing Copilot", "copilot"),
        ("Grok 4", "grok"),
        ("Claude Code token usage in the status bar", "claude code"),
        ("Kimi 浏览器助手", "kimi"),  # an ambiguous name with a Chinese "assistant"
        ("一个人工智能写作工具", "人工智能"),
        ("Llama chat for your tabs", "llama"),
    ],
)
def test_names_that_say_ai(text: str, word: str) -> None:
    terms = ai_terms(text)
    assert word in (*terms.strong, *terms.brands, *terms.ambiguous)
    assert terms.says_ai() is not None


@pytest.mark.parametrize(
    "text",
    [
        "Mail Checker",  # "ai" inside a word
        "Said the Raven",
        "Aim Lab Trainer",
        "Paint Tool",
        "American Airlines AAdvantage eShopping",
        "AIS Visa Portal",  # an acronym
        "JPG to AI Converter",  # Adobe Illustrator's file format
        "AI to SVG Converter",
        "Gemini Wallet",  # the crypto exchange's wallet
        "Gemini Exchange price alerts",
        "Claude Monet gallery new tab",  # a painter
        "Université Claude Bernard",
        "Copilot flight tracker",
        "Copilot Money budget sync",
        "Llama farm webcam",  # the animal, with nothing else saying AI
        "Egypt travel guide",  # no "gpt" inside a word
        "DefiLlama",
        "Vai ai saldi",  # Italian "ai"
        "Custom Cursor for Chrome",
    ],
)
def test_traps_that_do_not_say_ai(text: str) -> None:
    assert ai_terms(text).says_ai() is None


def test_a_name_is_enough_for_an_uncatalogued_extension(matcher: Matcher) -> None:
    verdict = assess(matcher, BROWSER, "a" * 32, {"name": "Summarize with ChatGPT"})
    assert verdict is not None
    assert (verdict.reason, verdict.confidence) == ("extension-name-token:chatgpt", "medium")
    short = assess(matcher, BROWSER, "a" * 32, {"name": "Helper", "short_name": "Claude Helper"})
    assert short is not None and short.reason == "extension-short-name-token:claude"
    assert assess(matcher, BROWSER, "a" * 32, {"name": "Gemini Wallet"}) is None


def test_a_description_says_ai_with_a_task_or_a_brand(matcher: Matcher) -> None:
    said = assess(
        matcher, BROWSER, "a" * 32, {"name": "Jarvis", "description": "Your AI writing assistant"}
    )
    assert said is not None
    assert (said.reason, said.confidence) == ("extension-description-token:ai", "low")
    brand = assess(
        matcher, BROWSER, "a" * 32, {"name": "Jarvis", "description": "Ask OpenAI anything"}
    )
    assert brand is not None and brand.reason == "extension-description-token:openai"
    # "AI" alone, with no task, says nothing (an ad blocker that hides AI overviews).
    bare = {"name": "Clean SERP", "description": "Hides the AI box on search pages"}
    assert assess(matcher, BROWSER, "a" * 32, bare) is None


def test_an_ambiguous_word_needs_a_second_signal(matcher: Matcher) -> None:
    alone = {"name": "Mistral", "permissions": ["storage"]}
    assert assess(matcher, BROWSER, "a" * 32, alone) is None
    with_panel = {"name": "Mistral", "permissions": ["sidePanel", "storage"]}
    verdict = assess(matcher, BROWSER, "a" * 32, with_panel)
    assert verdict is not None and verdict.reason == "extension-name-token:mistral"


def test_permissions_side_panel_and_homepage(matcher: Matcher) -> None:
    panel = assess(
        matcher,
        BROWSER,
        "a" * 32,
        {
            "name": "Helper",
            "permissions": ["sidePanel"],
            "host_permissions": ["https://claude.ai/*"],
        },
    )
    assert panel is not None
    assert (panel.reason, panel.confidence) == ("extension-side-panel-ai-host:claude.ai", "medium")
    assert panel.related_service is not None
    home = assess(
        matcher, BROWSER, "a" * 32, {"name": "Helper", "homepage_url": "https://chatgpt.com/x"}
    )
    assert home is not None and home.reason == "extension-homepage:chatgpt.com"
    broad = {
        "name": "Password vault",
        "permissions": ["sidePanel"],
        "host_permissions": ["<all_urls>"],
    }
    assert assess(matcher, BROWSER, "a" * 32, broad) is None
    crypto = {"name": "Vault", "homepage_url": "https://www.gemini.com/"}
    assert assess(matcher, BROWSER, "a" * 32, crypto) is None


def test_ide_manifest_declarations(matcher: Matcher) -> None:
    participant = assess(
        matcher, IDE, "x.y", {"name": "Helper", "contributes": ["chatParticipants"]}
    )
    assert participant is not None
    assert (participant.reason, participant.confidence) == (
        "ide-contributes:chatParticipants",
        "medium",
    )
    provider = assess(matcher, IDE, "x.y", {"contributes": ["languageModelChatProviders"]})
    assert provider is not None and provider.reason == "ide-contributes:languageModelChatProviders"
    jetbrains = assess(matcher, IDE, "p", {"plugin_dependencies": ["com.intellij.ml.llm"]})
    assert jetbrains is not None
    assert jetbrains.reason == "ide-depends-on-ai-platform:com.intellij.ml.llm"
    mcp = assess(matcher, IDE, "x.y", {"name": "Context7 MCP Server"})
    assert mcp is not None and mcp.reason == "ide-name-token:mcp"


@pytest.mark.parametrize(
    "hints",
    [
        # GitHub's pull-request extension: the AI and Chat categories, Copilot tools and context.
        {
            "name": "GitHub Pull Requests",
            "description": "Pull Request and Issue Provider for GitHub",
            "categories": ["Other", "AI", "Chat"],
            "contributes": ["chatContext", "chatSkills", "commands", "languageModelTools"],
        },
        # Jupyter: notebooks, data science, machine learning, language-model tools.
        {
            "name": "Jupyter",
            "description": "Jupyter notebook support, interactive programming and computing",
            "categories": ["Data Science", "Machine Learning", "Notebooks"],
            "contributes": ["languageModelTools", "notebookRenderer"],
        },
        # The C/C++ extension bundles Copilot's language server to offer Copilot features.
        {
            "name": "C/C++",
            "description": "C/C++ IntelliSense, debugging, and code browsing.",
            "dependencies": ["@github/copilot-language-server", "vscode-languageclient"],
        },
        {"name": "Data Wrangler", "categories": ["Data Science", "Machine Learning"]},
    ],
)
def test_ide_traps(matcher: Matcher, hints: dict[str, object]) -> None:
    assert assess(matcher, IDE, "publisher.name", hints) is None


def test_ide_name_or_description_counts_more_with_ai_declarations(matcher: Matcher) -> None:
    plain = assess(matcher, IDE, "x.y", {"name": "Sourcery", "description": "AI code reviews"})
    assert plain is not None
    assert (plain.reason, plain.confidence) == ("ide-description-token:ai", "low")
    declared = assess(
        matcher,
        IDE,
        "x.y",
        {"name": "Claude Helper", "categories": ["AI"], "contributes": ["languageModelTools"]},
    )
    assert declared is not None
    assert (declared.reason, declared.confidence) == ("ide-name-token:claude", "medium")
