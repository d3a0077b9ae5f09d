"""Run inside a private mount namespace (see test_real_tools.py): install a managed policy where
Debian's Chromium reads it, start real Chromium with an unpacked extension, and print as JSON
what chrome://policy shows and which extensions Chromium let run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main(policy_file: str, extension: str, profile: str) -> None:
    managed = Path("/etc/chromium/policies/managed")
    managed.mkdir(parents=True)
    (managed / "shadowmap.json").write_text(Path(policy_file).read_text())
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                f"--disable-extensions-except={extension}",
                f"--load-extension={extension}",
            ],
        )
        page = context.new_page()
        page.goto("chrome://policy")
        rows = page.locator("policy-row")
        rows.first.wait_for()
        every = rows.evaluate_all(
            "rows => rows.map(row => (row.shadowRoot || row).textContent.replace(/\\s+/g, ' '))"
        )
        shown = [row.strip() for row in every if "Not set." not in row]
        page.goto("chrome://extensions")
        running = page.evaluate("() => new Promise(done => chrome.management.getAll(done))")
        context.close()
    print(json.dumps({"policy_rows": shown, "extensions": [e["id"] for e in running]}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
