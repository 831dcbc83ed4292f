"""The one-page summary for decision makers, and the number formatting the app shares with it.

The network is the one of test_maps.py (see its docstring).  Hand-checked figures:
plan annual cost 300 (s2) + 100 (c3) + 9 staff x 100 = 1,300; today's 500 + 300 + 400 + 50
+ 5,000 + 900 = 7,150; one-off cost 40 (closing s1); offices operating 2, today 5.
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from optimizer import summary
from optimizer.summary import HEADLINE, format_change, format_value, headline, summary_html
from test_maps import EVIL, solved_network
from tiny import solved

DAY = datetime.date(2025, 1, 31)
NAMESPACE = 'xmlns="http://www.w3.org/2000/svg"'


def cells(page: str, label: str) -> list[str]:
    """The cells of the figures row whose first cell is `label`."""
    row = re.search(rf"<tr><td>{re.escape(label)}</td>(.*?)</tr>", page)
    assert row, f"no row {label!r}"
    return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))


# --- formatting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (1_234_567.4, "kr/year", "1,234,567 kr/year"),
        (520_000, "kr", "520,000 kr"),
        (0.0, "kr", "0 kr"),
        (121.0, "count", "121"),
        (12_345, "count", "12,345"),
        (842.73, "staff", "842.7"),
        (4.000000081, "staff", "4"),
        (1234.5, "staff", "1,234.5"),
        (0.739, "share", "73.9%"),
        (1.0, "share", "100.0%"),
        (8.49, "km", "8.5 km"),
        (1234.56, "km", "1,234.6 km"),
        (float("nan"), "km", "\u2013"),
        (None, "kr/year", "\u2013"),
    ],
)
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


@pytest.mark.parametrize(
    "value, before, unit, text",
    [
        (763_280_687, 865_856_539, "kr/year", "-102,575,852 kr/year"),
        (79_520_000, 0, "kr", "+79,520,000 kr"),
        (121, 146, "count", "-25"),
        (0.739, 0.742, "share", "-0.3 pp"),
        (0.879, 0.866, "share", "+1.3 pp"),
        (50.0, 50.0, "km", "0.0 km"),
        (50.0, 50.00001, "km", "0.0 km"),  # no "-0.0"
        (1.0, None, "km", "\u2013"),
    ],
)
def test_format_change(value, before, unit, text):
    assert format_change(value, before, unit) == text


def test_every_headline_key_is_a_figure_of_the_plan():
    p, plan = solved_network()
    rows = headline(p)
    assert rows[: len(HEADLINE)] == list(HEADLINE)
    assert [r.key for r in rows[len(HEADLINE) :]] == ["mean distance km: FK", "max distance km: FK"]
    assert [r.label for r in rows[len(HEADLINE) :]] == ["Mean distance, FK", "Max distance, FK"]
    assert all(r.key in plan.figures for r in rows)
    assert {r.unit for r in rows} <= {"kr/year", "kr", "count", "staff", "share", "km"}


# --- the page ---------------------------------------------------------------------------


def page(**settings) -> str:
    p, plan = solved_network(**settings)
    return summary_html(p, plan, "Plan <north> & south", date=DAY)


def test_the_summary_shows_todays_figures_the_plans_and_the_change():
    html = page()
    assert cells(html, "Annual cost") == ["7,150 kr/year", "1,300 kr/year", "-5,850 kr/year"]
    assert cells(html, "One-off cost") == ["0 kr", "40 kr", "+40 kr"]
    assert cells(html, "Offices operating") == ["5", "2", "-3"]
    assert cells(html, "Staff") == ["9", "9", "0"]
    assert cells(html, "Population within 10 km") == ["72.2%", "66.7%", "-5.6 pp"]
    assert cells(html, "Population within 50 km") == ["100.0%", "100.0%", "0.0 pp"]
    # Per agency: mean today, plan, change, then the largest distance.
    assert cells(html, "FK") == ["8.8 km", "10.4 km", "+1.6 km", "44.6 km", "44.6 km", "0.0 km"]


def test_the_summary_has_title_date_status_counts_costs_and_map():
    html = page()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<title>Plan &lt;north&gt; &amp; south</title>" in html
    assert "<h1>Plan &lt;north&gt; &amp; south</h1>" in html
    assert "2025-01-31" in html and "@page" in html and "A4" in html
    assert ">optimal</span> Optimal plan." in html
    counts = {label: n for n, label in re.findall(r"<b>([\d,]+)</b>(\w+)</div>", html)}
    assert counts == {"Kept": "1", "Opened": "1", "Merged": "2", "Closed": "2"}
    assert "Total per year (the plan's objective): <b>1,304 kr/year</b>; today 7,150 kr/year" in html
    assert "One-off cost \u00f7 10 years" in html and "4 kr/year" in html  # 40 kr over 10 years
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 2  # the cost chart and the map
    for svg in svgs:
        ET.fromstring(svg)
    assert html.count('data-site="') == 5


def test_the_summary_lists_the_changes_with_names_escaped():
    html = page()
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html.split("<h2>Changes")[1])
    assert rows == [
        ("s1", "merge", "merged into s2"),
        ("&lt;script&gt;&amp;&quot;x&quot; (c3)", "open", "opened with FK"),
        ("s5", "close", "closed"),
        ("s6", "close", "closed"),
        ("s7", "merge", "merged into &lt;script&gt;&amp;&quot;x&quot; (c3)"),
    ]
    assert "<h2>Changes (5)</h2>" in html and "more</div>" not in html
    assert "<script" not in html and EVIL not in html


def test_only_the_first_changes_are_listed_then_how_many_more(monkeypatch):
    monkeypatch.setattr(summary, "MAX_CHANGES", 2)
    html = page()
    assert html.split("<h2>Changes")[1].count("<tr><td>") == 2
    assert '<div class="more">and 3 more</div>' in html


def test_the_summary_fetches_nothing():
    html = page()
    outside = html.replace(NAMESPACE, "")
    assert "http://" not in outside and "https://" not in outside
    for reference in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href="):
        assert reference not in outside.lower()


def test_without_todays_figures_there_are_no_today_or_change_columns():
    p, plan = solved_network()
    html = summary_html(p, replace(plan, today=None, today_message="Today's network was not priced."), "T", DAY)
    assert cells(html, "Annual cost") == ["1,300 kr/year"]
    assert '<th class="n">Today</th>' not in html and '<th class="n">Change</th>' not in html
    assert "Today&#x27;s network was not priced." in html
    assert "today 7,150" not in html


def test_a_plan_without_a_solution_still_renders_todays_network():
    p, _ = solved_network()
    p = p.with_settings(budget_annual=10.0)
    plan = solved(p)
    assert plan.status == "infeasible" and plan.today is not None
    html = summary_html(p, plan, "No plan", date=DAY)
    assert ">infeasible</span> No plan fits the budgets" in html
    assert cells(html, "Annual cost") == ["7,150 kr/year", "\u2013", "\u2013"]
    assert "No plan, so no changes." in html and "<h2>Today's offices</h2>" in html
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    for svg in svgs:
        ET.fromstring(svg)
    assert html.count('data-site="') == 4  # today's offices with a position
    outside = html.replace(NAMESPACE, "")
    assert "http://" not in outside and "https://" not in outside
