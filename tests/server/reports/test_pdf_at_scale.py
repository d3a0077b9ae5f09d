"""The PDF report at fleet scale: two pages whatever the fleet's size (the top of each list and
how many more), every script drawn with embedded fonts (Chinese names included, from Debian's
fonts-droid-fallback), no cell cut, and false positives and out-of-scope items left out.
With $SCREENSHOT_DIR set, its first page is saved there as report-cjk.png."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store.inventory import InventoryItem
from server.config import ServerSettings
from server.inventory import service as inventory_service
from server.reports.runner import run_report
from signatures import load_catalogue
from tests.e2e.fleet import NOW, seed_fleet

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def _pdftext(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.slow  # 800 hosts seeded through ingest, a PDF rendered and rasterised
def test_the_board_pdf_stays_two_pages_draws_cjk_and_leaves_out_false_positives(
    tmp_path: Path,
) -> None:
    settings = ServerSettings(data_dir=tmp_path / "server", scheduler_enabled=False)
    settings.data_dir.mkdir(parents=True)
    engine = make_engine(f"sqlite:///{settings.data_dir / 'shadowmap.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    catalogue = load_catalogue()
    seed_fleet(sessions, catalogue, hosts_count=800, services_count=250)
    with transaction(sessions) as session:
        qwen = session.scalars(
            select(InventoryItem).where(InventoryItem.service_id == "alibaba-qwen")
        ).one()
        inventory_service.transition_item(
            session, actor="rita", item_id=qwen.id, target="false_positive", reason="test lab"
        )
        ernie = session.scalars(
            select(InventoryItem).where(InventoryItem.service_id == "baidu-ernie")
        ).one()
        inventory_service.transition_item(
            session, actor="rita", item_id=ernie.id, target="out_of_scope", reason="lab only"
        )
    run = run_report(
        sessions,
        settings,
        name="weekly",
        trigger="manual",
        deliver=False,
        now=NOW + dt.timedelta(hours=1),
    )
    engine.dispose()
    assert run is not None and run.status == "done"
    head = run.summary["headline"]
    assert head["new_services"] > 50 and head["hosts_total"] == 800
    pdf = settings.data_dir / "reports" / str(run.id) / run.outputs[1]["filename"]
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert pages <= 2
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True)
    embedded = [line for line in fonts.stdout.splitlines() if "DroidSansFallback" in line]
    assert embedded and " yes " in embedded[0]  # the CJK font is embedded, not substituted
    text = _pdftext(pdf)
    flat = re.sub(r"\s+", "", text)
    assert "Doubao(豆包)" in flat  # the most widespread new service, drawn in full
    assert "通义千问" not in text and "文心一言" not in text  # false positive, out of scope
    assert "more (see the CSV report or the app)" in text
    assert f"Hosts not reporting ({head['hosts_not_reporting']:,})" in text
    png = tmp_path / "report-cjk"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf), str(png)], check=True
    )
    first_page = next(tmp_path.glob("report-cjk*.png"))
    assert first_page.stat().st_size > 20_000
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(first_page, Path(SCREENSHOTS) / "report-cjk.png")
