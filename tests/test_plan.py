"""What a plan says about each site, and its figures, on a network with real coordinates.

s1 and s2 are 5.56 km apart (0.05 degrees of latitude at 60 N); s2 is cheaper, so the plan
keeps s2 and gives up s1.  Whether s1 is a merge or a closure depends on the merge radius
and on whether s2 ends up hosting every agency s1 had.
"""

from __future__ import annotations

import pytest
from geopy.distance import geodesic

from tiny import agency, area, problem, site, solved

S1, S2, FAR = (60.0, 15.0), (60.05, 15.0), (61.0, 15.0)
S1_S2_KM = geodesic(S1, S2).km


def pair(merge_radius_km=10.0, skv_rate=1.0, s2_agencies=("FK", "SKV")):
    agencies = [agency("FK"), agency("SKV", visits_per_capita=skv_rate)]
    areas = [area("a1", 1000, *S1), area("a2", 3000, *S2)]
    sites = [
        site("s1", "existing", *S1, annual_cost=500.0, close_cost=40.0, agencies_now=("FK", "SKV")),
        site("s2", "existing", *S2, annual_cost=300.0, agencies_now=s2_agencies),
        site("c3", "candidate", *FAR, annual_cost=10_000.0),
    ]
    return solved(problem(agencies, areas, sites, max_distance_km=50.0, merge_radius_km=merge_radius_km))


def action(plan, site_id):
    row = plan.sites.set_index("site_id").loc[site_id]
    return row.action, row.merged_into if isinstance(row.merged_into, str) else None


def test_a_closed_site_next_to_one_hosting_all_its_agencies_is_merged():
    plan = pair()
    assert action(plan, "s1") == ("merge", "s2")
    assert action(plan, "s2") == ("keep", None)
    assert action(plan, "c3") == ("unused", None)
    changes = plan.changes.set_index("site_id")
    assert changes.loc["s1", "detail"] == "merged into s2"
    assert "c3" not in changes.index and "s2" not in changes.index


def test_beyond_the_merge_radius_it_is_a_closure():
    plan = pair(merge_radius_km=5.0)
    assert action(plan, "s1") == ("close", None)


def test_an_agency_missing_at_the_neighbour_makes_it_a_closure():
    # Nobody needs SKV any more, so s2 does not host it and cannot absorb s1's SKV office.
    plan = pair(skv_rate=0.0)
    assert action(plan, "s1") == ("close", None)
    removed = plan.changes[plan.changes.change == "agency removed"]
    assert set(removed.detail) == {"SKV removed"}


def test_an_agency_added_to_the_neighbour_counts_for_the_merge():
    plan = pair(s2_agencies=("FK",))
    assert action(plan, "s1") == ("merge", "s2")
    added = plan.changes[plan.changes.change == "agency added"]
    assert list(added.site_id) == ["s2"] and list(added.detail) == ["SKV added"]


def test_figures_of_the_plan_and_of_today():
    plan = pair()
    f = plan.figures
    # 4,000 visits per agency, 1,000 visits per staff at 100 a year.
    assert f["staff: FK"] == pytest.approx(4.0) and f["staff: SKV"] == pytest.approx(4.0)
    assert f["annual cost: sites"] == pytest.approx(300.0)
    assert f["annual cost: staff"] == pytest.approx(800.0)
    assert f["one-off cost"] == pytest.approx(40.0)
    assert f["objective"] == pytest.approx(300 + 800 + 40 / 10)
    assert f["offices: merge"] == 1 and f["offices: keep"] == 1 and f["offices: unused"] == 1
    assert f["visits: covered"] == pytest.approx(8000.0) == f["visits: total"]
    assert f["population: covered"] == pytest.approx(4000.0)
    assert f["mean distance km: FK"] == pytest.approx(1000 * S1_S2_KM / 4000, rel=1e-9)
    assert f["max distance km: FK"] == pytest.approx(S1_S2_KM, rel=1e-9)
    assert f["population within 10 km of an office (share)"] == pytest.approx(1.0)
    today = plan.today
    assert today["annual cost: sites"] == pytest.approx(800.0)
    assert today["mean distance km: FK"] == pytest.approx(0.0)
    assert today["offices: keep"] == 2


def test_areas_table_reports_distance_and_coverage_per_agency():
    areas = pair().areas.set_index(["area_id", "agency_id"])
    assert areas.loc[("a1", "FK"), "distance_km"] == pytest.approx(S1_S2_KM)
    assert areas.loc[("a2", "SKV"), "distance_km"] == pytest.approx(0.0)
    assert bool(areas.loc[("a1", "SKV"), "covered"])
