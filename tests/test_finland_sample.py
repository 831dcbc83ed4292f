"""The Finnish sample: `inputs/finland.xlsx` is what `inputs/build_samples.py` builds.

Reading it gives the 3,024 postcode areas with their 2022 population, one site at each of
the 308 municipal centres and the four agencies; every area with visits can be reached,
by a site and by today's network.  The full instance is not solved here: it takes one to
two minutes (see inputs/README.md).  The checks that need the reference data in
`../shared/data` are skipped where it is not there.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from optimizer.pipeline import prepare
from optimizer.workbook import read_problem

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "inputs" / "finland.xlsx"
DATA = ROOT.parent / "shared" / "data"

needs_data = pytest.mark.skipif(
    not (DATA / "fi_postcode_areas.csv").exists(), reason=f"reference data not found in {DATA}"
)


@pytest.fixture(scope="module")
def problem():
    return read_problem(SAMPLE)


def builder():
    """inputs/build_samples.py as a module (inputs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("build_samples", ROOT / "inputs" / "build_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_areas_sites_and_agencies(problem):
    assert len(problem.areas) == 3024
    assert len(problem.sites) == 308
    assert [a.agency_id for a in problem.agencies] == ["KELA", "VERO", "POL", "TE"]
    assert problem.settings.budget_annual is not None and problem.settings.budget_one_off is not None
    assert problem.settings.staff_integer is False
    assert problem.settings.travel_cost_per_km > 0
    assert problem.settings.mip_gap == 0.01


def test_one_site_per_municipal_centre(problem):
    codes = [s.site_id[1:] for s in problem.sites]
    assert len(set(codes)) == 308
    for site in problem.sites:
        assert site.site_id[0] == ("S" if site.is_existing else "C")
        assert bool(site.agencies_now) == site.is_existing


@needs_data
def test_population_is_the_csv_sum(problem):
    csv = pd.read_csv(DATA / "fi_postcode_areas.csv", dtype={"postcode": str})
    assert sum(a.population for a in problem.areas) == csv["population_2022"].sum() == 5_494_748
    assert {a.area_id: a.population for a in problem.areas} == dict(zip(csv["postcode"], csv["population_2022"]))
    municipalities = pd.read_csv(DATA / "fi_municipalities.csv", dtype={"code": str})
    assert sorted(s.site_id[1:] for s in problem.sites) == sorted(municipalities["code"])


def test_every_visit_can_be_served_by_a_site_and_by_todays_network(problem):
    inst = prepare(problem)
    assert inst.unreachable_pairs() == []
    assert inst.unreachable_pairs(inst.present_today[inst.k_site, inst.k_agency]) == []
    # Only the remote pairs of the demand sheet are taken out, each with zero visits.
    assert problem.demand and set(problem.demand.values()) == {0.0}


def sheet_values(path: Path) -> dict[str, list[tuple]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in workbook.worksheets}
    finally:
        workbook.close()


@needs_data
def test_the_workbook_is_what_the_builder_writes(tmp_path):
    build = builder()
    municipalities = build.read_fi_municipalities(DATA)
    sheets, _ = build.build_finland(municipalities, build.read_fi_postcode_areas(DATA, municipalities))
    rebuilt = tmp_path / "finland.xlsx"
    build.write_workbook(sheets, rebuilt)
    assert dataclasses.replace(read_problem(rebuilt), source=None) == dataclasses.replace(
        read_problem(SAMPLE), source=None
    )
    assert sheet_values(rebuilt) == sheet_values(SAMPLE)  # notes and sources too
