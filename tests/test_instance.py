"""The instance: visits, distances and admissible triples, and when distances are re-used."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from geopy.distance import geodesic

from optimizer.instance import build_instance, distance_cutoff_km
from tiny import agency, area, problem, site

# Three areas on a meridian, 0, ~33 and ~67 km north of the only site.
AREAS = [area("near", 100, 60.0, 15.0), area("mid", 100, 60.3, 15.0), area("far", 100, 60.6, 15.0)]
SITES = [site("s", "existing", 60.0, 15.0, agencies_now=("FK",))]


def geo(**settings):
    return problem([agency("FK"), agency("PM", max_distance_km=80.0)], AREAS, SITES, **{"max_distance_km": 50.0, **settings})


def triples(inst):
    ids = lambda seq, idx: [seq[k] for k in idx]  # noqa: E731
    p = inst.problem
    return set(zip(ids([a.area_id for a in p.areas], inst.k_area), ids([a.agency_id for a in p.agencies], inst.k_agency)))


def test_only_pairs_within_each_agencys_limit_are_admissible():
    inst = build_instance(geo())
    assert triples(inst) == {("near", "FK"), ("mid", "FK"), ("near", "PM"), ("mid", "PM"), ("far", "PM")}
    assert inst.unreachable_pairs() == [(2, 0)]  # far has no FK office within 50 km


def test_distances_are_geodesic_times_circuity():
    inst = build_instance(geo(circuity_factor=1.25))
    mid = (inst.k_area == 1) & (inst.k_agency == 0)
    assert inst.k_km[mid][0] == pytest.approx(1.25 * geodesic((60.3, 15.0), (60.0, 15.0)).km, abs=1e-6)
    assert ("mid", "FK") in triples(inst) and ("far", "PM") not in triples(inst)  # 83 km > 80


def test_a_listed_distance_overrides_the_computed_one_without_circuity():
    inst = build_instance(dataclasses.replace(geo(circuity_factor=2.0), distances={("far", "s"): 10.0}))
    assert ("far", "FK") in triples(inst)
    far = (inst.k_area == 2) & (inst.k_agency == 0)
    assert inst.k_km[far][0] == 10.0


def test_demand_sheet_overrides_population_times_rate():
    inst = build_instance(dataclasses.replace(geo(), demand={("mid", "PM"): 7.0, ("near", "FK"): 0.0}))
    assert inst.visits[1, 1] == 7.0
    assert inst.visits[0, 0] == 0.0 and inst.visits[2, 0] == 100.0
    assert ("near", "FK") not in triples(inst)  # no visits, no variables


def test_a_budget_change_reuses_the_distance_table():
    first = build_instance(geo())
    again = build_instance(first.problem.with_settings(budget_annual=1e6, max_distance_km=30.0), first.table)
    assert again.table is first.table
    assert triples(again) == {("near", "FK"), ("near", "PM"), ("mid", "PM"), ("far", "PM")}


def test_a_longer_limit_or_new_geography_computes_distances_again():
    first = build_instance(geo())
    assert distance_cutoff_km(first.problem) == 80.0
    longer = build_instance(first.problem.with_settings(max_distance_km=120.0), first.table)
    assert longer.table is not first.table and longer.table.cutoff_km == 120.0
    moved = dataclasses.replace(first.problem, sites=(dataclasses.replace(SITES[0], lat=60.6),))
    assert build_instance(moved, first.table).table is not first.table
    assert build_instance(first.problem.with_settings(circuity_factor=1.3), first.table).table is not first.table


def test_no_limit_makes_the_table_dense():
    inst = build_instance(problem([agency("FK")], AREAS, SITES))
    assert inst.table.cutoff_km is None
    assert np.array_equal(np.sort(inst.k_area), [0, 1, 2])
