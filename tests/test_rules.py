"""A plan made outside the general model is kept only if it keeps every rule the model has: the
general model's own optima pass, and each rule broken by a little is caught."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimizer.instance import build_instance
from optimizer.plan import cost_parts
from optimizer.rules import keeps_rules
from optimizer.solve import solve
from tests.test_general_bound import general_problem

SEEDS = range(30)


def optimum(seed: int):
    problem = general_problem(seed)
    inst = build_instance(problem)
    plan = solve(inst)
    if plan.status != "optimal":
        pytest.skip("no plan keeps this random problem's rules")
    return problem, inst, plan


@pytest.mark.parametrize("seed", SEEDS)
def test_the_general_models_optimum_keeps_the_rules(seed):
    _, inst, plan = optimum(seed)
    assert keeps_rules(inst, plan)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_plan_that_leaves_visits_unserved_or_serves_them_where_the_agency_is_absent_breaks_the_rules(seed):
    _, inst, plan = optimum(seed)
    k = int(np.argmax(plan.x))
    assert not keeps_rules(inst, replace(plan, x=np.where(np.arange(len(plan.x)) == k, 0.5 * plan.x, plan.x)))
    z = plan.z.copy()
    z[inst.k_site[k], inst.k_agency[k]] = False
    assert not keeps_rules(inst, replace(plan, z=z))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_plan_short_of_staff_or_over_its_desks_breaks_the_rules(seed):
    problem, inst, plan = optimum(seed)
    need = np.zeros(plan.n.shape)
    for (i, j, a), share in zip(zip(inst.k_area, inst.k_site, inst.k_agency), plan.x):
        need[j, a] += share * inst.visits[i, a] / problem.agencies[a].visits_per_staff
    need = np.maximum(need, plan.z * [g.min_staff for g in problem.agencies])
    j, a = np.unravel_index(np.argmax(need), need.shape)
    fewer = plan.n.copy()
    fewer[j, a] = need[j, a] - 0.01
    assert not keeps_rules(inst, replace(plan, n=fewer))
    cramped = replace(problem, sites=tuple(replace(s, desks=plan.n[i].sum() - 0.01) if i == j else s
                                           for i, s in enumerate(problem.sites)))
    assert not keeps_rules(build_instance(cramped), plan)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_plan_against_a_forced_site_or_the_office_count_breaks_the_rules(seed):
    problem, _, plan = optimum(seed)
    j = int(np.argmax(plan.y))
    closed = replace(problem, sites=tuple(replace(s, force="closed") if i == j else s
                                          for i, s in enumerate(problem.sites)))
    assert not keeps_rules(build_instance(closed), plan)
    fewer = problem.with_settings(max_offices=int(plan.y.sum()) - 1, min_offices=None)
    assert not keeps_rules(build_instance(fewer), plan)
    more = problem.with_settings(min_offices=int(plan.y.sum()) + 1, max_offices=None)
    assert not keeps_rules(build_instance(more), plan)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_plan_over_any_budget_breaks_the_rules(seed):
    problem, inst, plan = optimum(seed)
    parts = cost_parts(inst, plan)
    assert not keeps_rules(build_instance(problem.with_settings(budget_annual=parts["annual cost"] - 0.01)), plan)
    if parts["one-off cost"] > 0:
        tight = problem.with_settings(budget_one_off=parts["one-off cost"] - 0.01)
        assert not keeps_rules(build_instance(tight), plan)
    a = int(np.argmax(plan.n.sum(axis=0)))
    spent = float((plan.z[:, a] * problem.agencies[a].presence_cost + plan.n[:, a] * problem.agencies[a].staff_cost).sum())
    if spent > 0:
        agencies = tuple(replace(g, budget=spent - 0.01) if i == a else g for i, g in enumerate(problem.agencies))
        assert not keeps_rules(build_instance(replace(problem, agencies=agencies)), plan)
