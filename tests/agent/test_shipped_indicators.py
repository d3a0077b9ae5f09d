"""Every indicator the agent ships is matched by a service of the shipped catalogue.

An indicator that no shipped service claims is looked for on every endpoint and then thrown
away by the runner: a footprint, a runtime's process name or port, a runtime's data folder,
an MCP client. This test walks all of them (the catalogue-driven footprints and the names,
ports and paths written in agent code) against the catalogue in signatures/data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from agent.scanners.footprints import FootprintScanner, catalogue_footprints
from agent.scanners.mcp import CLIENT_SERVICES, CONFIGS
from agent.scanners.runtimes import DATA_DIRS, RUNTIMES, SYSTEM_DATA_DIRS
from signatures import Catalogue, IndicatorKind, Matcher

# The agent labels runtimes by their usual names; the catalogue by service id.
RUNTIME_SERVICES = {
    "ollama": "ollama",
    "lm-studio": "lm-studio",
    "llama.cpp": "llama-cpp",
    "gpt4all": "gpt4all",
    "jan": "jan",
    "vllm": "vllm",
    "koboldcpp": "koboldcpp",
    "huggingface": "huggingface",
}
# A process name of one runtime that is a sibling service of its own (llamafile is llama.cpp's
# single-file distribution, catalogued on its own).
SIBLINGS = {"llamafile": "llamafile"}
HOMES = ("/home/ana/", "/Users/ana/", "C:\\Users\\ana\\")


@dataclass(frozen=True, slots=True)
class Shipped:
    """One indicator the agent looks for, and the service it must lead to."""

    where: str
    kind: str  # footprint, process, port, install_path, mcp_client
    value: str
    service: str


def shipped_indicators(catalogue: Catalogue) -> list[Shipped]:
    """Return every indicator the agent ships, with the service it belongs to."""
    found = [
        Shipped("footprint", "footprint", footprint, service.id)
        for service in catalogue.services
        for footprint in service.indicators.get(IndicatorKind.FOOTPRINT, ())
    ]
    for runtime in RUNTIMES:
        expected = RUNTIME_SERVICES[runtime.name]
        found.append(Shipped(f"runtime {runtime.name}", "port", str(runtime.port), expected))
        for name in sorted(runtime.processes):
            service = SIBLINGS.get(name.removesuffix(".exe"), expected)
            found.append(Shipped(f"runtime {runtime.name}", "process", name, service))
    for data_dir in DATA_DIRS:
        for home in HOMES:
            path = home + (
                data_dir.rel.replace("/", "\\") if home.startswith("C:") else data_dir.rel
            )
            found.append(
                Shipped("data folder", "install_path", path, RUNTIME_SERVICES[data_dir.runtime])
            )
    for data_dir in SYSTEM_DATA_DIRS:
        found.append(
            Shipped(
                "data folder",
                "install_path",
                "/" + data_dir.rel,
                RUNTIME_SERVICES[data_dir.runtime],
            )
        )
    for config in CONFIGS:
        found.append(
            Shipped(
                "mcp client", "mcp_client", config.client, CLIENT_SERVICES.get(config.client, "")
            )
        )
    return found


def _claimants(catalogue: Catalogue, kind: IndicatorKind, value: str) -> set[str]:
    return {
        service.id for service in catalogue.services if value in service.indicators.get(kind, ())
    }


def unmatched(catalogue: Catalogue, matcher: Matcher, shipped: list[Shipped]) -> list[str]:
    """Return what is wrong with each shipped indicator the catalogue does not attribute."""
    problems = []
    for item in shipped:
        label = f"{item.where}: {item.kind} {item.value!r}"
        if item.kind == "mcp_client":
            if not item.service or catalogue.get(item.service) is None:
                problems.append(f"{label} names no shipped service ({item.service!r})")
            continue
        if item.kind == "footprint":
            hit = matcher.match_exact(IndicatorKind.FOOTPRINT, item.value)
        elif item.kind == "process":
            hit = matcher.match_process(name=item.value)
        elif item.kind == "install_path":
            hit = matcher.match_path(IndicatorKind.INSTALL_PATH, item.value)
        else:
            hit = matcher.match_exact(IndicatorKind.PORT, item.value)
            claimants = _claimants(catalogue, IndicatorKind.PORT, item.value)
            # A port two services claim (Jan and Atomic Chat both listen on 1337) is
            # ambiguous by design: it names nobody alone, the process name decides.
            if hit is None and item.service in claimants and len(claimants) > 1:
                continue
        if hit is None:
            problems.append(f"{label} matches no shipped service")
        elif hit.service_id != item.service:
            problems.append(f"{label} matches {hit.service_id}, not {item.service}")
    return problems


def test_every_shipped_indicator_is_matched_by_its_shipped_service(
    catalogue: Catalogue, matcher: Matcher
) -> None:
    shipped = shipped_indicators(catalogue)
    assert {item.kind for item in shipped} == {
        "footprint",
        "port",
        "process",
        "install_path",
        "mcp_client",
    }
    assert unmatched(catalogue, matcher, shipped) == []


def test_an_indicator_no_service_claims_is_caught(catalogue: Catalogue, matcher: Matcher) -> None:
    strays = [
        Shipped("footprint", "footprint", ".no-such-ai-tool", "nobody"),
        Shipped("runtime x", "process", "no-such-runtime", "nobody"),
        Shipped("runtime x", "port", "1", "nobody"),
        Shipped("data folder", "install_path", "/home/ana/.no-such-runtime/models", "nobody"),
        Shipped("mcp client", "mcp_client", "no_such_client", ""),
        Shipped("runtime ollama", "process", "ollama", "lm-studio"),  # the wrong service
    ]
    assert len(unmatched(catalogue, matcher, strays)) == len(strays)


def test_footprints_are_unambiguous_and_the_scanner_looks_for_all(
    catalogue: Catalogue, matcher: Matcher
) -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for service in catalogue.services:
        for footprint in service.indicators.get(IndicatorKind.FOOTPRINT, ()):
            owners[footprint].add(service.id)
    assert owners, "the shipped catalogue names no footprints"
    assert {footprint for footprint, services in owners.items() if len(services) > 1} == set()
    assert set(FootprintScanner.for_catalogue(catalogue).footprints) == set(owners)
    assert set(catalogue_footprints(catalogue)) == set(owners)
    hit = matcher.match_exact(IndicatorKind.FOOTPRINT, ".claude")
    assert hit is not None and hit.confidence == "medium"


def test_every_mcp_client_has_its_service() -> None:
    assert {config.client for config in CONFIGS} == set(CLIENT_SERVICES)
