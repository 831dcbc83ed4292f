"""The office-network model of docs/model.md, one function per family of constraints.

Notation (as in docs/model.md): areas i in I, sites j in J, agencies a in A; admissible
triples K (area i may be served at site j by agency a); demand pairs IA (v_ia > 0 and
reachable).  Variables: y[j] site operates, z[j, a] agency staffs site, n[j, a] staff,
x[i, j, a] share of area i's visits to agency a served at site j.

Every rule family is its own named component so that callers can switch one off
(`model.annual_budget.deactivate()`) to explain an infeasible plan, or fix y and z to
price today's network, without building a second model.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pyomo.environ as pyo

from optimizer.instance import Instance


def build_model(inst: Instance) -> pyo.ConcreteModel:
    """The full model for the instance's settings, with the objective its settings ask for."""
    m = pyo.ConcreteModel(name="office_network")
    m.inst = inst  # kept on the model so that solution extraction needs nothing else
    declare_sets(m, inst)
    declare_variables(m, inst)
    demand_is_served(m)
    service_needs_presence(m)
    presence_needs_site(m)
    staff_serve_visits(m)
    minimum_staff(m)
    no_staff_where_absent(m)
    site_desks(m)
    forced_sites(m)
    office_count(m)
    agency_budget(m)
    declare_costs(m)
    annual_budget(m)
    one_off_budget(m)
    declare_objectives(m)
    return m


# --- sets -------------------------------------------------------------------------------


def declare_sets(m: pyo.ConcreteModel, inst: Instance) -> None:
    """I, J, A, K, IA and JA, with the groupings sums need (K by (i, a) and by (j, a))."""
    m.I = pyo.Set(initialize=range(inst.n_areas), ordered=True)
    m.J = pyo.Set(initialize=range(inst.n_sites), ordered=True)
    m.A = pyo.Set(initialize=range(inst.n_agencies), ordered=True)
    triples = inst.triples()
    m.K = pyo.Set(initialize=triples, dimen=3)
    m.d = dict(zip(triples, inst.k_km.tolist()))
    m.v = {(int(i), int(a)): float(inst.visits[i, a]) for i, a in zip(*np.nonzero(inst.visits))}
    sites_of = defaultdict(list)  # (i, a) -> sites that may serve it
    areas_of = defaultdict(list)  # (j, a) -> areas it may serve
    for i, j, a in triples:
        sites_of[i, a].append(j)
        areas_of[j, a].append(i)
    m.sites_of, m.areas_of = sites_of, areas_of
    m.IA = pyo.Set(initialize=sorted(sites_of), dimen=2)
    m.JA = pyo.Set(initialize=[(j, a) for j in m.J for a in m.A], dimen=2)


# --- variables --------------------------------------------------------------------------


def staff_upper_bound(m: pyo.ConcreteModel, j: int, a: int) -> float:
    """N_ja: the most staff agency a could usefully put at site j.

    Enough to serve every area it may serve, and never below the minimum presence.  Desks
    are left to `site_desks`, so that switching that family off relaxes desks entirely.
    """
    agency = m.inst.problem.agencies[a]
    reachable_visits = sum(m.v[i, a] for i in m.areas_of.get((j, a), ()))
    need = reachable_visits / agency.visits_per_staff
    if m.inst.problem.settings.staff_integer:
        need = math.ceil(need - 1e-9)
    return max(need, agency.min_staff)


def declare_variables(m: pyo.ConcreteModel, inst: Instance) -> None:
    staff_domain = pyo.NonNegativeIntegers if inst.problem.settings.staff_integer else pyo.NonNegativeReals
    m.y = pyo.Var(m.J, domain=pyo.Binary)
    m.z = pyo.Var(m.JA, domain=pyo.Binary)
    m.N = {(j, a): staff_upper_bound(m, j, a) for j, a in m.JA}
    m.n = pyo.Var(m.JA, domain=staff_domain, bounds=lambda m, j, a: (0, m.N[j, a]))
    m.x = pyo.Var(m.K, bounds=(0, 1))


# --- constraints ------------------------------------------------------------------------


def demand_is_served(m: pyo.ConcreteModel) -> None:
    """sum_j x[i, j, a] = 1 for every demand pair; <= 1 in coverage mode, where some go unserved."""
    coverage = m.inst.problem.settings.objective == "coverage"

    def rule(m, i, a):
        served = sum(m.x[i, j, a] for j in m.sites_of[i, a])
        return served <= 1 if coverage else served == 1

    m.demand_is_served = pyo.Constraint(m.IA, rule=rule)


def service_needs_presence(m: pyo.ConcreteModel) -> None:
    """x[i, j, a] <= z[j, a]: an area is served only where the agency is present."""
    m.service_needs_presence = pyo.Constraint(m.K, rule=lambda m, i, j, a: m.x[i, j, a] <= m.z[j, a])


def presence_needs_site(m: pyo.ConcreteModel) -> None:
    """z[j, a] <= y[j]: an agency is present only at an operating site."""
    m.presence_needs_site = pyo.Constraint(m.JA, rule=lambda m, j, a: m.z[j, a] <= m.y[j])


def staff_serve_visits(m: pyo.ConcreteModel) -> None:
    """n[j, a] >= sum_i (v_ia / visits_per_staff_a) x[i, j, a]: enough staff for the visits served.

    Written per staff rather than per visit so that the coefficients stay near 1, which
    HiGHS's simplex needs to be fast (visits run to 1e5 per area, staff to tens).
    """
    agencies = m.inst.problem.agencies

    def rule(m, j, a):
        areas = m.areas_of.get((j, a))
        if not areas:
            return pyo.Constraint.Skip
        per_staff = 1.0 / agencies[a].visits_per_staff
        return m.n[j, a] >= sum(m.v[i, a] * per_staff * m.x[i, j, a] for i in areas)

    m.staff_serve_visits = pyo.Constraint(m.JA, rule=rule)


def minimum_staff(m: pyo.ConcreteModel) -> None:
    """n[j, a] >= min_staff_a * z[j, a]: a present agency has at least its minimum staff."""
    agencies = m.inst.problem.agencies

    def rule(m, j, a):
        if agencies[a].min_staff == 0:
            return pyo.Constraint.Skip
        return m.n[j, a] >= agencies[a].min_staff * m.z[j, a]

    m.minimum_staff = pyo.Constraint(m.JA, rule=rule)


def no_staff_where_absent(m: pyo.ConcreteModel) -> None:
    """n[j, a] <= N_ja * z[j, a]: no staff where the agency is absent (N_ja from `staff_upper_bound`)."""
    m.no_staff_where_absent = pyo.Constraint(m.JA, rule=lambda m, j, a: m.n[j, a] <= m.N[j, a] * m.z[j, a])


def site_desks(m: pyo.ConcreteModel) -> None:
    """sum_a n[j, a] <= desks_j * y[j] where the site has a desk count."""
    sites = m.inst.problem.sites

    def rule(m, j):
        if sites[j].desks is None:
            return pyo.Constraint.Skip
        return sum(m.n[j, a] for a in m.A) <= sites[j].desks * m.y[j]

    m.site_desks = pyo.Constraint(m.J, rule=rule)


def forced_sites(m: pyo.ConcreteModel) -> None:
    """y[j] = 1 or 0 where the workbook forces the site open or closed."""
    sites = m.inst.problem.sites

    def rule(m, j):
        if sites[j].force is None:
            return pyo.Constraint.Skip
        return m.y[j] == (1 if sites[j].force == "open" else 0)

    m.forced_sites = pyo.Constraint(m.J, rule=rule)


def office_count(m: pyo.ConcreteModel) -> None:
    """min_offices <= sum_j y[j] <= max_offices."""
    s = m.inst.problem.settings
    if s.min_offices is None and s.max_offices is None:
        return
    m.office_count = pyo.Constraint(expr=pyo.inequality(s.min_offices, sum(m.y[j] for j in m.J), s.max_offices))


def agency_spend(m: pyo.ConcreteModel, a: int):
    """sum_j (presence_cost_a z[j, a] + staff_cost_a n[j, a]): what agency a pays a year."""
    agency = m.inst.problem.agencies[a]
    return sum(agency.presence_cost * m.z[j, a] + agency.staff_cost * m.n[j, a] for j in m.J)


def agency_budget(m: pyo.ConcreteModel) -> None:
    """Each agency's annual spend within its own budget, where it has one."""
    agencies = m.inst.problem.agencies

    def rule(m, a):
        if agencies[a].budget is None:
            return pyo.Constraint.Skip
        return agency_spend(m, a) <= agencies[a].budget

    m.agency_budget = pyo.Constraint(m.A, rule=rule)


# --- costs, budgets and objectives ------------------------------------------------------


def declare_costs(m: pyo.ConcreteModel) -> None:
    """The cost parts as named expressions, so the plan reads them back rather than recomputing."""
    problem = m.inst.problem
    sites, agencies = problem.sites, problem.agencies
    m.site_cost = pyo.Expression(expr=sum(sites[j].annual_cost * m.y[j] for j in m.J))
    m.presence_cost = pyo.Expression(expr=sum(agencies[a].presence_cost * m.z[j, a] for j, a in m.JA))
    m.staff_cost = pyo.Expression(expr=sum(agencies[a].staff_cost * m.n[j, a] for j, a in m.JA))
    m.annual_cost = pyo.Expression(expr=m.site_cost + m.presence_cost + m.staff_cost)
    opening = sum(s.open_cost * m.y[j] for j, s in enumerate(sites) if not s.is_existing)
    closing = sum(s.close_cost * (1 - m.y[j]) for j, s in enumerate(sites) if s.is_existing)
    setup = sum(
        agencies[a].setup_cost * m.z[j, a]
        for j, a in m.JA
        if agencies[a].agency_id not in sites[j].agencies_now and agencies[a].setup_cost
    )
    m.one_off_cost = pyo.Expression(expr=opening + closing + setup)
    m.visit_km = pyo.Expression(expr=sum(m.v[i, a] * m.d[i, j, a] * m.x[i, j, a] for i, j, a in m.K))
    m.travel_cost = pyo.Expression(expr=problem.settings.travel_cost_per_km * m.visit_km)
    m.covered_visits = pyo.Expression(expr=sum(m.v[i, a] * m.x[i, j, a] for i, j, a in m.K))


def annual_budget(m: pyo.ConcreteModel) -> None:
    budget = m.inst.problem.settings.budget_annual
    if budget is not None:
        m.annual_budget = pyo.Constraint(expr=m.annual_cost <= budget)


def one_off_budget(m: pyo.ConcreteModel) -> None:
    budget = m.inst.problem.settings.budget_one_off
    if budget is not None:
        m.one_off_budget = pyo.Constraint(expr=m.one_off_cost <= budget)


def declare_objectives(m: pyo.ConcreteModel) -> None:
    """`cost`: annual + one_off / L + travel.  `coverage`: most visits served (then cost, see solve)."""
    s = m.inst.problem.settings
    m.total_cost = pyo.Expression(expr=m.annual_cost + m.one_off_cost / s.amortization_years + m.travel_cost)
    m.cost = pyo.Objective(expr=m.total_cost, sense=pyo.minimize)
    m.coverage = pyo.Objective(expr=m.covered_visits, sense=pyo.maximize)
    if s.objective == "cost":
        m.coverage.deactivate()
    else:
        m.cost.deactivate()
