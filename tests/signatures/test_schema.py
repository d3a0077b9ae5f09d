"""The JSON Schema and the loader agree on good and bad catalogue files."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml

from signatures import CatalogueError, catalogue_files, default_data_dir, parse_file
from signatures.loader import INDICATOR_PATTERNS, SERVICE_ID
from signatures.model import INDICATOR_KEYS

SCHEMA: dict[str, Any] = json.loads(
    resources.files("signatures").joinpath("schema/catalogue.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())

ENTRY = """\
  - id: sample
    name: Sample
    vendor: Sample Co
    category: image_generation
    deployment: [saas, api]
    indicators:
      domains: [sample.test]
      hosts: ["bedrock.*.sample.test"]
      ports: [1234]
      pypi: [sample-sdk]
      npm: ["@sample/sdk"]
      env_vars: [SAMPLE_API_KEY]
      browser_extensions: [abcdefghijklmnopabcdefghijklmnop]
      ide_extensions: [Sample.sample-vscode]
      ip_ranges: [192.0.2.0/24]
    risk:
      trains_on_user_data: opt_out
      hq_country: US
    sources: [https://sample.test]
    last_reviewed: 2026-11-27
    examples:
      match: ["domain:sample.test"]
      no_match: ["domain:sample.test.example"]
"""

MALICIOUS = """\
    malicious:
      report: https://research.example/fake-ai-sidebar
      reported_on: 2025-03-01
      summary: steals session cookies
"""

ADDITION = """\
additions:
  - id: another-service
    indicators:
      hosts: [api.sample.test]
    sources: [https://sample.test/api]
    examples:
      match: ["host:api.sample.test"]
"""

GOOD = [
    "services:\n" + ENTRY,
    "services: []\n",
    "services:\n" + ENTRY + MALICIOUS,
    "services: []\n" + ADDITION,
]
BAD = [
    "services:\n" + ENTRY.replace("category: image_generation", "category: painting"),
    "services:\n" + ENTRY.replace("[sample.test]\n", "[Sample.Test]\n", 1),
    "services:\n" + ENTRY.replace("ports: [1234]", "ports: [0]"),
    "services:\n" + ENTRY.replace("ports: [1234]", "ports: [http]"),
    "services:\n" + ENTRY.replace("env_vars: [SAMPLE_API_KEY]", "env_vars: [sample key]"),
    "services:\n" + ENTRY.replace("sources: [https://sample.test]", "sources: []"),
    "services:\n" + ENTRY.replace("    sources: [https://sample.test]\n", ""),
    "services:\n" + ENTRY.replace("hq_country: US", "hq_country: USA"),
    "services:\n" + ENTRY.replace("trains_on_user_data: opt_out", "trains_on_user_data: maybe"),
    "services:\n" + ENTRY.replace("    vendor: Sample Co\n", ""),
    "services:\n"
    + ENTRY.replace("    vendor: Sample Co", "    vendor: Sample Co\n    colour: blue"),
    "services:\n" + ENTRY.replace('npm: ["@sample/sdk"]', 'npm: ["@Sample/SDK"]'),
    "services:\n"
    + ENTRY.replace("[abcdefghijklmnopabcdefghijklmnop]", "[abcdefghijklmnopabcdefghijklmnoz]"),
    "services:\n" + ENTRY.replace("last_reviewed: 2026-11-27", "last_reviewed: 2026-13-45"),
    "services:\n" + ENTRY.replace('"bedrock.*.sample.test"', '"*.*.sample.test"'),
    "services:\n" + ENTRY.replace('match: ["domain:sample.test"]', 'match: ["dns:sample.test"]'),
    "services:\n" + ENTRY.replace("deployment: [saas, api]", "deployment: [cloudy]"),
    "services:\n" + ENTRY.replace("    description: x\n", "") + "    description: null\n",
    "services: {}\n",
    "catalogue: []\n",
    "services:\n" + ENTRY + MALICIOUS.replace("https://research", "http://research"),
    "services:\n"
    + ENTRY
    + MALICIOUS.replace("      summary: steals session cookies\n", "").replace(
        "      report: https://research.example/fake-ai-sidebar\n", ""
    ),
    "services:\n" + ENTRY + MALICIOUS.replace("2025-03-01", "March 2025"),
    "services:\n" + ENTRY + MALICIOUS + "      severity: high\n",
    "services: []\n" + ADDITION.replace("    sources: [https://sample.test/api]\n", ""),
    "services: []\n" + ADDITION.replace("[api.sample.test]", "[API.sample.test]"),
    "services: []\n" + ADDITION + "    name: Another\n",
    "services: []\n" + ADDITION.replace("  - id: another-service", "  - id: Another Service"),
    "services: []\nadditions: {}\n",
]


def schema_accepts(text: str) -> bool:
    # JSON has no dates: compare what a JSON document would carry.
    try:
        decoded = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):
        return False
    document = json.loads(json.dumps(decoded, default=str))
    return VALIDATOR.is_valid(document)


def loader_accepts(text: str) -> bool:
    try:
        parse_file("sample.yaml", text)
    except CatalogueError:
        return False
    return True


@pytest.mark.parametrize("text", GOOD)
def test_good_files_pass_both(text: str) -> None:
    assert schema_accepts(text)
    assert loader_accepts(text)


@pytest.mark.parametrize("text", BAD)
def test_bad_files_fail_both(text: str) -> None:
    assert not schema_accepts(text)
    assert not loader_accepts(text)


@pytest.mark.parametrize(
    "path",
    [path for _, path in catalogue_files(default_data_dir())],
    ids=[name for name, _ in catalogue_files(default_data_dir())],
)
def test_every_shipped_file_passes_the_schema(path: Any) -> None:
    assert schema_accepts(path.read_text(encoding="utf-8"))


def test_schema_patterns_are_the_loader_patterns() -> None:
    properties = SCHEMA["$defs"]["indicators"]["properties"]
    assert set(properties) == set(INDICATOR_KEYS)
    for key, kind in INDICATOR_KEYS.items():
        items = properties[key]["items"]
        if kind in INDICATOR_PATTERNS:
            assert items["pattern"] == INDICATOR_PATTERNS[kind], key
    assert SCHEMA["$defs"]["service"]["properties"]["id"]["pattern"] == SERVICE_ID.pattern
