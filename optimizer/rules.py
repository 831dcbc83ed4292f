"""Whether a plan made outside the general model keeps its rules.

Plans made without HiGHS (`desk_fit`'s repairs, the Lagrangian's choices in `pipeline`) are
kept only when they pass here, so that no plan the engine reports breaks a rule the model has.
Each check is the model's constraint family of the same name in `docs/model.md`, in numpy.
"""

from __future__ import annotations

import numpy as np

from models.nearest_office import desk_counts, staff_serving

from .instance import Instance
from .plan import cost_parts
from .solve import Solution

# Round-off allowed on shares, staff and costs (relative to the cost where a cost is compared).
_TOL = 1e-6


def overspend(inst: Instance, plan: Solution) -> tuple[float, np.ndarray]:
    """How far a plan's annual cost, and each agency's, are above their budgets (<= 0: within)."""
    problem = inst.problem
    budget = problem.settings.budget_annual
    annual = -np.inf if budget is None else cost_parts(inst, plan)["annual cost"] - budget
    presence = np.array([a.presence_cost for a in problem.agencies])
    staff_cost = np.array([a.staff_cost for a in problem.agencies])
    budgets = np.array([np.inf if a.budget is None else a.budget for a in problem.agencies])
    return annual, (plan.z * presence + plan.n * staff_cost).sum(axis=0) - budgets


def keeps_budgets(inst: Instance, plan: Solution) -> bool:
    """The annual budget and the agencies' kept, to round-off (HiGHS keeps a binding row to its tolerance)."""
    problem = inst.problem
    annual, agencies = overspend(inst, plan)
    budgets = [problem.settings.budget_annual, *(a.budget for a in problem.agencies)]
    allowed = np.array([_TOL * max(1.0, abs(b)) if b is not None else np.inf for b in budgets])
    return bool(np.all(np.r_[annual, agencies] <= allowed))


def keeps_rules(inst: Instance, plan: Solution) -> bool:
    """Every visit served where its agency is present, staff for the visits and the minimum, the
    desks, forced sites, office counts and all three budgets kept."""
    return (_demand_is_served(inst, plan) and _staffed(inst, plan) and _forced_and_counted(inst, plan)
            and keeps_budgets(inst, plan) and _one_off_budget(inst, plan))


def _demand_is_served(inst: Instance, plan: Solution) -> bool:
    """demand_is_served, service_needs_presence and presence_needs_site."""
    pair = inst.k_agency.astype(np.int64) * inst.n_areas + inst.k_area
    share = np.bincount(pair, plan.x, minlength=inst.n_agencies * inst.n_areas)[np.unique(pair)]
    present = plan.z[inst.k_site, inst.k_agency] & plan.y[inst.k_site]
    return bool(np.all(np.abs(share - 1.0) <= _TOL) and np.all(plan.x[~present] <= _TOL)
                and np.all(plan.z <= plan.y[:, None]))


def _staffed(inst: Instance, plan: Solution) -> bool:
    """staff_serve_visits, minimum_staff, no_staff_where_absent and site_desks."""
    minimum = np.array([a.min_staff for a in inst.problem.agencies]) * plan.z
    need = np.maximum(staff_serving(inst, plan.x), minimum)
    return bool(np.all(plan.n >= need - _TOL) and np.all(plan.n[~plan.z] <= _TOL)
                and np.all(plan.n.sum(axis=1) <= np.where(plan.y, desk_counts(inst), 0.0) + _TOL))


def _forced_and_counted(inst: Instance, plan: Solution) -> bool:
    """forced_sites and office_count."""
    settings = inst.problem.settings
    force = np.array([{"open": 1, "closed": 0}.get(s.force, -1) for s in inst.problem.sites])
    offices = int(plan.y.sum())
    return bool(np.all((force < 0) | (plan.y == force))
                and offices >= (settings.min_offices or 0)
                and (settings.max_offices is None or offices <= settings.max_offices))


def _one_off_budget(inst: Instance, plan: Solution) -> bool:
    budget = inst.problem.settings.budget_one_off
    return budget is None or cost_parts(inst, plan)["one-off cost"] <= budget + _TOL * max(1.0, abs(budget))
