"""The validated, typed planning problem: what a workbook says, and nothing computed from it.

Every later stage (distances, model, solution, plan) reads a `Problem`; none reads the
workbook again.  The records are frozen so that a `Problem` can be shared between
re-solves and sent to worker processes without defensive copies; a small change
(a budget, a limit, a forced site) is made with `dataclasses.replace`, which leaves
the original and everything derived from its geography valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Mapping

Objective = Literal["cost", "coverage"]
SiteStatus = Literal["existing", "candidate"]
Force = Literal["open", "closed"]


@dataclass(frozen=True)
class Settings:
    """Global rules of the plan; `None` means "no limit" wherever a limit is optional."""

    max_distance_km: float | None = None
    circuity_factor: float = 1.0
    budget_annual: float | None = None
    budget_one_off: float | None = None
    amortization_years: float = 10.0
    travel_cost_per_km: float = 0.0
    min_offices: int | None = None
    max_offices: int | None = None
    objective: Objective = "cost"
    merge_radius_km: float = 10.0
    staff_integer: bool = True
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4


@dataclass(frozen=True)
class Agency:
    agency_id: str
    name: str
    staff_cost: float
    visits_per_staff: float
    max_distance_km: float | None = None
    min_staff: float = 1.0
    presence_cost: float = 0.0
    setup_cost: float = 0.0
    visits_per_capita: float = 0.0
    budget: float | None = None


@dataclass(frozen=True)
class Area:
    area_id: str
    name: str
    population: float
    lat: float | None = None
    lon: float | None = None
    region: str | None = None


@dataclass(frozen=True)
class Site:
    site_id: str
    name: str
    status: SiteStatus
    lat: float | None = None
    lon: float | None = None
    annual_cost: float = 0.0
    open_cost: float = 0.0
    close_cost: float = 0.0
    desks: float | None = None
    agencies_now: tuple[str, ...] = ()
    force: Force | None = None

    @property
    def is_existing(self) -> bool:
        return self.status == "existing"


@dataclass(frozen=True)
class Source:
    """Where the problem came from, so that a plan can be traced back to its inputs."""

    file_name: str
    sha256: str


@dataclass(frozen=True)
class Problem:
    settings: Settings
    agencies: tuple[Agency, ...]
    areas: tuple[Area, ...]
    sites: tuple[Site, ...]
    # (area_id, agency_id) -> visits a year; overrides population * visits_per_capita.
    demand: Mapping[tuple[str, str], float] = field(default_factory=dict)
    # (area_id, site_id) -> km; overrides the computed geodesic distance (circuity not applied).
    distances: Mapping[tuple[str, str], float] = field(default_factory=dict)
    source: Source | None = None

    def with_settings(self, **changes: object) -> Problem:
        """The same problem under other settings (a budget, a limit): geography is untouched."""
        return replace(self, settings=replace(self.settings, **changes))

    def limit_km(self, agency: Agency) -> float | None:
        """The agency's own limit where it has one, else the global one."""
        if agency.max_distance_km is not None:
            return agency.max_distance_km
        return self.settings.max_distance_km
