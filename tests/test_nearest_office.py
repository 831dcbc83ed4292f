"""The radius formulation: when it applies, how it groups distances, and that it prices a plan as the general model does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.nearest_office import RadiusModel, demand_levels, eligible, level_rows, staff_bill
from optimizer.instance import build_instance
from tests.tiny import agency, area, problem, site

# Two areas, three sites; area a1 has two sites at the same distance (one level).
DISTANCES = {("a1", "s1"): 5, ("a1", "s2"): 5, ("a1", "s3"): 9, ("a2", "s1"): 7, ("a2", "s3"): 2}


def two_areas(**settings):
    return problem(
        [agency("FK", visits_per_staff=10.0, staff_cost=3.0)],
        [area("a1", 20), area("a2", 30)],
        [site("s1", annual_cost=10), site("s2", annual_cost=20), site("s3", annual_cost=30)],
        DISTANCES,
        travel_cost_per_km=1.0,
        **settings,
    )


def test_equal_distances_share_a_level_and_levels_run_nearest_first():
    inst = build_instance(two_areas())
    lv = demand_levels(inst)
    assert lv.n_pairs == 2
    assert lv.n_levels.tolist() == [2, 2]  # a1: {5, 5} then 9; a2: 2 then 7
    assert lv.km.tolist() == [5, 9, 2, 7]
    sites_in_order = inst.k_site[lv.order].tolist()
    assert sites_in_order == [0, 1, 2, 2, 0]
    assert lv.level.tolist() == [0, 0, 1, 0, 1]
    assert lv.level_end.tolist() == [2, 3, 1, 2]  # triples at levels <= k


def test_depth_keeps_the_first_levels_of_each_pair():
    inst = build_instance(two_areas())
    pairs, k = level_rows(demand_levels(inst), np.array([1, 0]))
    assert pairs.tolist() == [0] and k.tolist() == [0]


def test_the_staff_bill_is_every_served_visit_at_the_staff_rate():
    inst = build_instance(two_areas())
    assert staff_bill(inst).tolist() == [pytest.approx((20 + 30) / 10 * 3.0)]


@pytest.mark.parametrize(
    "change, applies",
    [
        ({}, True),
        ({"staff_integer": True}, False),  # whole staff make the bill depend on how visits split
        ({"objective": "coverage"}, False),
    ],
)
def test_it_applies_only_when_everyone_goes_to_the_nearest_office(change, applies):
    assert eligible(build_instance(two_areas(**change))) is applies


def test_a_minimum_staff_or_a_desk_count_that_can_bind_rules_it_out():
    base = two_areas()
    with_minimum = replace(base, agencies=(replace(base.agencies[0], min_staff=1.0),))
    assert not eligible(build_instance(with_minimum))
    # s1 may serve 50 visits = 5 staff: 5 desks can never bind, 4 can.
    for desks, applies in ((5.0, True), (4.0, False)):
        sites = (replace(base.sites[0], desks=desks), *base.sites[1:])
        assert eligible(build_instance(replace(base, sites=sites))) is applies


def test_the_model_with_every_level_prices_each_plan_as_nearest_office():
    """Fix y and z to each of the 7 non-empty site sets: the LP's value is that plan's true cost."""
    inst = build_instance(two_areas())
    lv = demand_levels(inst)
    for mask in range(1, 8):
        open_ = np.array([(mask >> j) & 1 for j in range(3)], dtype=float)
        model = RadiusModel(inst, lv, lv.n_levels - 1)
        h = model.h
        columns = np.arange(model.c.w0, dtype=np.int32)
        values = np.concatenate([open_, open_])  # one agency: z[j] = y[j]
        h.changeColsBounds(len(columns), columns, values, values)
        h.run()
        if open_[0] == 0 and open_[2] == 0:  # a2 has no site: s1 or s3 needed
            assert h.getModelStatus().name == "kInfeasible"
            continue
        d1 = min(d for (a, s), d in DISTANCES.items() if a == "a1" and open_[int(s[1]) - 1])
        d2 = min(d for (a, s), d in DISTANCES.items() if a == "a2" and open_[int(s[1]) - 1])
        expected = open_ @ [10, 20, 30] + 15.0 + 20 * d1 + 30 * d2
        assert h.getInfo().objective_function_value == pytest.approx(expected)


def _mip_value(model: RadiusModel) -> float:
    model.h.run()
    return model.h.getInfo().objective_function_value


def test_fewer_levels_give_a_lower_bound_and_deepening_in_place_gives_the_full_model():
    inst = build_instance(two_areas())
    lv = demand_levels(inst)
    full = _mip_value(RadiusModel(inst, lv, lv.n_levels - 1))
    shallow = RadiusModel(inst, lv, np.zeros(lv.n_pairs, dtype=np.int64))
    assert _mip_value(shallow) <= full
    shallow.deepen(lv.n_levels - 1)
    assert _mip_value(shallow) == pytest.approx(full)
    assert shallow.w_level.tolist() == [0, 0] and shallow.w_pair.tolist() == [0, 1]
