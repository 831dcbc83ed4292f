"""The scale series' generator: seeded, shaped like Sweden, and everyone within reach of a site."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate import national  # noqa: E402
from optimizer.instance import build_instance  # noqa: E402


def test_the_same_seed_gives_the_same_instance_and_another_seed_another():
    assert national(400, 60, seed=3) == national(400, 60, seed=3)
    assert national(400, 60, seed=3).areas != national(400, 60, seed=4).areas


def test_every_area_has_a_site_within_the_limit_and_people_live_mostly_in_the_south():
    problem = national(1500, 80, seed=1)
    assert len(problem.areas) == 1500 and len(problem.sites) >= 80
    assert build_instance(problem).unreachable_pairs() == []
    people = sum(a.population for a in problem.areas)
    south = sum(a.population for a in problem.areas if a.lat < 61.0)
    assert 10_400_000 < people < 10_700_000
    assert south / people > 0.8  # as in Sweden, where about nine in ten live south of 61 N


def test_the_nearest_office_variant_drops_minimum_staff_and_desks_only():
    general, nearest = national(400, 60, seed=3), national(400, 60, seed=3, nearest_office=True)
    assert nearest.areas == general.areas
    assert [s.site_id for s in nearest.sites] == [s.site_id for s in general.sites]
    assert {a.min_staff for a in nearest.agencies} == {0.0}
    assert {s.desks for s in nearest.sites} == {None}
