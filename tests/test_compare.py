"""Plans side by side: headline figures in columns with their changes against the first plan,
and the sites whose fate differs between plans.

The network for the sites: s1 and s2 are existing offices 5.57 km apart hosting FK and SKV,
c3 a dear candidate 111 km away.  Left alone the plan keeps the cheaper s2 and merges s1
into it (300 + 800 staff + 40/10 closing = 1104 a year); with s2 forced closed it keeps s1
and merges s2 into it (500 + 800 = 1300).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from optimizer.compare import figures_side_by_side, sites_that_differ
from optimizer.figures_format import HEADLINE, headline
from optimizer.plan import no_plan
from optimizer.solve import Solution

from tiny import agency, area, problem, site, solved

S1, S2, FAR = (60.0, 15.0), (60.05, 15.0), (61.0, 15.0)

LABELS = [
    "Annual cost", "One-off cost", "Offices operating", "Staff",
    "Population within 10 km", "Population within 25 km", "Population within 50 km",
]
PLAN = {
    "annual cost": 763_280_687.4, "one-off cost": 79_520_000.0, "offices operating": 121, "staff": 842.73,
    "population within 10 km of an office (share)": 0.739,
    "population within 25 km of an office (share)": 0.879,
    "population within 50 km of an office (share)": 1.0,
}
TODAY = {
    "annual cost": 865_856_539.0, "one-off cost": 0.0, "offices operating": 146, "staff": 913.62,
    "population within 10 km of an office (share)": 0.742,
    "population within 25 km of an office (share)": 0.866,
    "population within 50 km of an office (share)": 1.0,
}
LEAN = {"annual cost": 763_280_687.4, "offices operating": 120, "staff": 842.0}


def test_two_plans_side_by_side_with_the_change_of_the_second_against_the_first():
    table = figures_side_by_side(HEADLINE, {"Plan": PLAN, "Today": TODAY})
    assert table.to_dict("list") == {
        "figure": LABELS,
        "Plan": ["763,280,687 kr/year", "79,520,000 kr", "121", "842.7", "73.9%", "87.9%", "100.0%"],
        "Today": ["865,856,539 kr/year", "0 kr", "146", "913.6", "74.2%", "86.6%", "100.0%"],
        "Today vs Plan": ["+102,575,852 kr/year", "-79,520,000 kr", "+25", "+70.9", "+0.3 pp", "-1.3 pp", "0.0 pp"],
    }


def test_each_later_plan_is_compared_with_the_first_and_a_missing_figure_is_a_dash():
    table = figures_side_by_side(HEADLINE, {"Plan": PLAN, "Today": TODAY, "Lean": LEAN})
    assert list(table.columns) == ["figure", "Plan", "Today", "Lean", "Today vs Plan", "Lean vs Plan"]
    assert list(table["Lean"]) == ["763,280,687 kr/year", "\u2013", "120", "842", "\u2013", "\u2013", "\u2013"]
    assert list(table["Lean vs Plan"]) == ["0 kr/year", "\u2013", "-1", "-0.7", "\u2013", "\u2013", "\u2013"]


def test_the_agency_distances_carry_the_agency_names_and_km():
    p = problem([agency("SKV", name="Skatteverket"), agency("FK")], [], [])
    rows = headline(p)
    first = {row.key: value for row, value in zip(rows, [0] * len(rows))} | {
        "mean distance km: SKV": 8.49, "max distance km: SKV": 49.89,
        "mean distance km: FK": 8.77, "max distance km: FK": 49.98,
    }
    second = first | {"mean distance km: SKV": 13.72, "max distance km: FK": 79.56}
    table = figures_side_by_side(rows, {"A": first, "B": second}).set_index("figure")
    assert list(table.index[len(HEADLINE):]) == [
        "Mean distance, Skatteverket", "Max distance, Skatteverket", "Mean distance, FK", "Max distance, FK",
    ]
    assert table.loc["Mean distance, Skatteverket"].to_dict() == {"A": "8.5 km", "B": "13.7 km", "B vs A": "+5.2 km"}
    assert table.loc["Max distance, FK"].to_dict() == {"A": "50.0 km", "B": "79.6 km", "B vs A": "+29.6 km"}
    assert table.loc["Mean distance, FK"].to_dict() == {"A": "8.8 km", "B": "8.8 km", "B vs A": "0.0 km"}


def test_one_plan_alone_has_no_change_columns_and_none_gives_only_the_labels():
    assert figures_side_by_side(HEADLINE[:2], {"Only": PLAN}).to_dict("list") == {
        "figure": ["Annual cost", "One-off cost"], "Only": ["763,280,687 kr/year", "79,520,000 kr"],
    }
    assert figures_side_by_side(HEADLINE, {}).to_dict("list") == {"figure": LABELS}


# --- sites that differ, on real plans ---------------------------------------------------------


SITES = (
    site("s1", "existing", *S1, annual_cost=500.0, close_cost=40.0, agencies_now=("FK", "SKV")),
    site("s2", "existing", *S2, annual_cost=300.0, agencies_now=("FK", "SKV")),
    site("c3", "candidate", *FAR, annual_cost=10_000.0),
)


def pair(*sites):
    return problem([agency("FK"), agency("SKV")], [area("a1", 1000, *S1), area("a2", 3000, *S2)],
                   sites or SITES, max_distance_km=50.0)


def s2_closed():
    return pair(SITES[0], dataclasses.replace(SITES[1], force="closed"), SITES[2])


def test_forcing_a_site_closed_lists_exactly_the_two_sites_that_swap_roles():
    free, locked = solved(pair()), solved(s2_closed())
    assert free.figures["objective"] == pytest.approx(1104.0) and locked.figures["objective"] == pytest.approx(1300.0)
    table = sites_that_differ({"free": free, "s2 closed": locked})
    assert list(table.columns) == ["site_id", "name", "free", "agencies: free", "s2 closed", "agencies: s2 closed"]
    assert table.to_dict("records") == [
        {"site_id": "s1", "name": "s1", "free": "merge", "agencies: free": "",
         "s2 closed": "keep", "agencies: s2 closed": "FK, SKV"},
        {"site_id": "s2", "name": "s2", "free": "keep", "agencies: free": "FK, SKV",
         "s2 closed": "merge", "agencies: s2 closed": ""},
    ]


def test_the_same_plan_twice_has_no_site_that_differs():
    free = solved(pair())
    table = sites_that_differ({"one": free, "two": solved(pair())})
    assert table.empty
    assert list(table.columns) == ["site_id", "name", "one", "agencies: one", "two", "agencies: two"]


def test_a_site_only_one_plan_has_is_blank_in_the_other_and_counts_as_differing():
    extra = site("c4", "candidate", *FAR, annual_cost=20_000.0)
    table = sites_that_differ({"three sites": solved(pair()), "four sites": solved(pair(*SITES, extra))})
    assert list(table.site_id) == ["c4"]
    row = table.iloc[0]
    assert pd.isna(row["three sites"]) and pd.isna(row["agencies: three sites"])
    assert (row["four sites"], row["agencies: four sites"]) == ("unused", "")


def test_the_agencies_differing_at_a_kept_site_count_too():
    # Nobody needs SKV in the second plan, so s2 is kept in both but without SKV there.
    free = solved(pair())
    no_skv = solved(problem([agency("FK"), agency("SKV", visits_per_capita=0.0)],
                            [area("a1", 1000, *S1), area("a2", 3000, *S2)], SITES, max_distance_km=50.0))
    table = sites_that_differ({"both": free, "FK only": no_skv}).set_index("site_id")
    assert table.loc["s2"].to_dict() == {"name": "s2", "both": "keep", "agencies: both": "FK, SKV",
                                         "FK only": "keep", "agencies: FK only": "FK"}


def test_a_failed_plan_has_no_column_and_alone_nothing_differs():
    failed = no_plan(Solution("infeasible", "No plan fits the budgets."))
    free = solved(pair())
    table = sites_that_differ({"failed": failed, "free": free})
    assert list(table.columns) == ["site_id", "name", "free", "agencies: free"]
    assert table.empty
    assert list(sites_that_differ({"failed": failed}).columns) == ["site_id", "name"]
