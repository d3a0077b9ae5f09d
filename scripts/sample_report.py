"""Regenerate docs/sample-report.pdf and its PNG pages from realistic seeded data.

Run from the repository root: /work/venv/bin/python scripts/sample_report.py
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from collector.db import make_engine, make_sessionmaker, transaction, upgrade  # noqa: E402
from server.config import ServerSettings  # noqa: E402
from server.reports.runner import run_report  # noqa: E402
from signatures import load_catalogue  # noqa: E402
from tests.server.reports.seed import seed_discovery  # noqa: E402


def main() -> int:
    docs = REPO / "docs"
    with tempfile.TemporaryDirectory() as scratch:
        settings = ServerSettings(data_dir=Path(scratch))
        engine = make_engine(settings.resolved_database_url())
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        with transaction(sessions) as session:
            seed_discovery(session, load_catalogue(None), now=dt.datetime.now(dt.UTC))
        run = run_report(sessions, settings, name="weekly", trigger="manual", deliver=False)
        assert run is not None
        source = Path(scratch) / "reports" / str(run.id)
        pdf = docs / "sample-report.pdf"
        shutil.copyfile(source / run.outputs[1]["filename"], pdf)
        shutil.copyfile(source / run.outputs[0]["filename"], docs / "sample-report.html")
        for old in docs.glob("sample-report-*.png"):
            old.unlink()
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", str(pdf), str(docs / "sample-report")], check=True
        )
        engine.dispose()
    for path in sorted(docs.glob("sample-report*")):
        print(path.relative_to(REPO))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
