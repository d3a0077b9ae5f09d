"""The recorded figures of the sign-in benchmark meet issue 20's targets: an account's
password is checked at most login_max_failures times before the lockout, and 40 parallel
anonymous sign-ins grow the server by at most 200 MB. A change that moves them must rerun
bench/bench_login.py and commit the new results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "login.json"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_attacker_gets_a_handful_of_guesses_per_account_and_address(backend: str) -> None:
    run = json.loads(RESULTS.read_text())["runs"][f"after/{backend}"]["guessing"]
    one = run["one_account"]
    # Five checks (the fifth answers "locked"), then nothing for the rest of the window.
    assert one["guesses_checked"] <= 5 and one["statuses"].get("429", 0) > 100
    assert one["checked_guesses_per_second_over_window"] < 1
    assert run["many_accounts_one_address"]["guesses_checked"] <= 20


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_forty_parallel_anonymous_sign_ins_stay_within_200_mb(backend: str) -> None:
    run = json.loads(RESULTS.read_text())["runs"][f"after/{backend}"]["anonymous_burst"]
    assert run["parallel"] == 40 and run["rounds"] >= 1
    assert run["rss_growth_mb"] <= 200
    assert "500" not in run["statuses"]
