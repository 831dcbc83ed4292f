"""End to end in a real headless Chromium: the app served by Streamlit on a free localhost port.

Driven by Playwright with Debian's Chromium (`/usr/bin/chromium`, which `.ci/run` installs);
Playwright's own browser download is never used.  Screenshots go to `tests/output/`.
Without Chromium the tests are skipped, unless OFFICEPLAN_BROWSER_REQUIRED=1 (set by CI),
where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openpyxl
import pytest

from optimizer.figures_format import format_value
from optimizer.input_tables import workbook_bytes
from optimizer.pipeline import plan, prepare
from optimizer.workbook import read_problem, read_sheets

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "output"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium's own calls home are refused on a closed network, many at a time; switch them off.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

if CHROMIUM is None:
    if os.environ.get("OFFICEPLAN_BROWSER_REQUIRED") == "1":
        raise RuntimeError("Chromium is required for the browser tests: apt-get install chromium")
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "OFFICEPLAN_STORE": str(tmp_path_factory.mktemp("store") / "scenarios.sqlite")}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
         "--server.fileWatcherType=none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError("streamlit did not start:\n" + process.stdout.read().decode(errors="replace"))
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server) -> Page:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(server)
    expect(page.get_by_text("Office network plan").first).to_be_visible(timeout=60_000)
    yield page
    context.close()


def test_the_swedish_sample_solves_and_shows_its_figures_and_map(page, tmp_path):
    page.get_by_role("button", name="Solve", exact=True).click()
    expect(page.get_by_text("Optimal.").first).to_be_visible(timeout=120_000)
    expected = plan(prepare(read_problem(ROOT / "inputs" / "sweden.xlsx")), with_today=False)
    offices = page.locator('[data-testid="stMetric"]', has_text="Offices operating")
    expect(offices).to_contain_text(format_value(expected.figures["offices operating"], "count"))
    # The plan's cost is within the sample's mip_gap of the engine's: same office count, cost shown in kr/year.
    expect(page.locator('[data-testid="stMetric"]', has_text="Annual cost")).to_contain_text("kr/year")
    deck = page.locator('[data-testid="stDeckGlJsonChart"]').first
    expect(deck).to_be_visible()
    expect(deck.locator("canvas").first).to_be_visible()
    OUTPUT.mkdir(exist_ok=True)
    deck.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # let deck.gl draw its points
    page.screenshot(path=str(OUTPUT / "app_sweden.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the plan (.xlsx)").click()
    saved = tmp_path / "plan.xlsx"
    download.value.save_as(saved)
    workbook = openpyxl.load_workbook(saved, read_only=True)
    assert workbook.sheetnames == ["summary", "sites", "assignments", "areas", "changes"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Download a one-page summary (.html)").click()
    summary = tmp_path / "summary.html"
    download.value.save_as(summary)
    text = summary.read_text(encoding="utf-8")
    assert "Office network plan" in text and "<svg" in text
    assert format_value(expected.figures["offices operating"], "count") in text


def test_an_uploaded_workbook_with_a_bad_cell_is_shown_where_it_is(page, tmp_path):
    sheets = read_sheets((ROOT / "inputs" / "demo.xlsx").read_bytes(), "demo.xlsx")
    sheets["sites"].at[1, "lat"] = "59,3"
    bad = tmp_path / "offices.xlsx"
    bad.write_bytes(workbook_bytes(sheets))
    page.get_by_text("Upload a workbook").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    expect(page.get_by_text("The inputs have 1 problem(s)").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("sheet 'sites', row 3, column 'lat'").first).to_be_visible()
    expect(page.get_by_role("button", name="Solve", exact=True)).to_have_count(0, timeout=30_000)
    page.get_by_role("tab", name="Inputs").click()
    page.get_by_role("tab", name="sites ⚠ 1").click()
    expect(page.get_by_text("1 problem(s) in sheet 'sites'").first).to_be_visible()
    OUTPUT.mkdir(exist_ok=True)
    page.wait_for_timeout(1000)  # the grids draw on a canvas
    page.screenshot(path=str(OUTPUT / "app_bad_upload.png"))
