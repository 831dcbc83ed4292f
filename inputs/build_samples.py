"""Build the sample workbooks `inputs/sweden.xlsx`, `inputs/demo.xlsx` and `inputs/finland.xlsx`.

Run from the repository root:

    python inputs/build_samples.py            # data from ../shared/data
    python inputs/build_samples.py --data DIR --out-dir DIR

Why a script and not hand-made workbooks: every figure in the samples is either taken
from the reference data (SCB and Statistics Finland population, GeoNames and NLS
coordinates) or computed from a handful of stated assumptions below, so a reviewer can
see, and change, where each number comes from.  The output is deterministic: no randomness, rows in a fixed order,
and the xlsx files are written with fixed timestamps so that rebuilding gives
byte-identical files (the plan's summary records the input's SHA-256).

Only the standard library, numpy, pandas and openpyxl are used, so the script runs in
the project's own environment.  See inputs/README.md for the sources and assumptions.
"""

from __future__ import annotations

import argparse
import io
import math
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"

# Fixed timestamp for the xlsx package (zip entries and docProps/core.xml): rebuilding
# the samples must not change their SHA-256.
FIXED_ZIP_TIME = (2025, 1, 1, 0, 0, 0)
FIXED_ISO_TIME = "2025-01-01T00:00:00Z"

# --------------------------------------------------------------------------------------
# Assumptions shared by the samples (documented in inputs/README.md)
# --------------------------------------------------------------------------------------

MAX_DISTANCE_KM = 50.0
# Road distance is about 1.2 times the straight line (a common rule of thumb); applying
# it makes the 50 km limit a limit on approximate road kilometres.
CIRCUITY_FACTOR = 1.2
AMORTIZATION_YEARS = 10
MERGE_RADIUS_KM = 10.0

# Premises: rented floor area grows with desks (reception, waiting area, interview
# rooms are the fixed part); rent per m2 a year including service charge, cleaning and
# security depends on the local market.
FIXED_FLOOR_M2 = 150.0
FLOOR_M2_PER_DESK = 20.0
RENT_METRO_SEK_M2 = 2600.0  # Stockholm county, Göteborg, Malmö municipality
RENT_CITY_SEK_M2 = 2200.0  # other municipalities with >= 100,000 residents
RENT_TOWN_SEK_M2 = 1800.0  # everywhere else
METRO_MUNICIPALITIES = {"1480", "1280"}  # Göteborg, Malmö; all of county 01 too

# Fitted desks of an existing office (what the rent pays for): today's catchment staff
# need times a headroom factor.  The `desks` column is the capacity, the most staff the
# premises can hold after densifying (shared desks, interview rooms as work places):
# DESK_CAPACITY_FACTOR times the fitted desks.  Why not the fitted desks themselves: a
# municipality is one demand point, so all of Stockholm's (or Göteborg's) visitors sit at
# one spot and the nearest city office would hit a tight desk limit for that artefact
# alone; such near-binding limits also make HiGHS an order of magnitude slower.
FITTED_HEADROOM = 1.5
FITTED_SPARE = 2
MIN_FITTED = 8
MAX_FITTED = 50
DESK_CAPACITY_FACTOR = 2.0

# One-off costs.
CLOSE_COST_FIXED = 300_000.0  # notice period overlap, restoration, moving
CLOSE_COST_RENT_SHARE = 0.4  # plus this share of a year's rent (remaining lease)
OPEN_COST_FIXED = 800_000.0  # fit-out, counters, security, signage, IT network
OPEN_COST_PER_DESK = 30_000.0


@dataclass(frozen=True)
class AgencySpec:
    """One agency row; figures are assumptions scaled to Ds 2020:29 and RiR 2022:28."""

    agency_id: str
    name: str
    visits_per_capita: float
    visits_per_staff: float
    staff_cost: float
    presence_cost: float
    setup_cost: float
    min_staff: int
    max_distance_km: float | None
    note: str


AGENCIES: tuple[AgencySpec, ...] = (
    AgencySpec(
        "SKV", "Skatteverket", 0.12, 4200, 700_000, 250_000, 600_000, 1, None,
        "Largest share of visits (ID cards, population register, tax). Presence and "
        "setup include the ID-card photo/fingerprint station and its accreditation.",
    ),
    AgencySpec(
        "FK", "Försäkringskassan", 0.09, 3600, 700_000, 200_000, 400_000, 1, None,
        "Parental and sickness benefits, housing allowance: longer cases, fewer "
        "visits per staff.",
    ),
    AgencySpec(
        "PM", "Pensionsmyndigheten", 0.03, 3800, 700_000, 150_000, 300_000, 1, 80.0,
        "Pension applications are a once-in-a-lifetime errand and can be booked, so "
        "a longer trip is accepted: 80 km instead of the 50 km setting.",
    ),
    AgencySpec(
        "AF", "Arbetsförmedlingen", 0.04, 4000, 700_000, 200_000, 400_000, 1, None,
        "Registration and ID checks for job seekers; present at the larger offices "
        "today.",
    ),
)

# --------------------------------------------------------------------------------------
# The approximate existing network (see inputs/README.md: NOT the official list)
# --------------------------------------------------------------------------------------

BASIS_OPEN_2020 = "opened June 2020 (data README)"
BASIS_OPEN_2021 = "opened 2021 (data README)"
BASIS_OPEN_P1 = "opening 2022-24 phase 1 (data README)"
BASIS_OPEN_P2 = "opening 2022-24 phase 2 (data README)"
BASIS_SECOND = "opening 2022-24 (data README), modelled as a second office in the city"
BASIS_STHLM = "Stockholm-region office named in 2023 (data README)"
BASIS_CLOSING = "closure decided 2025 (data README); still open in this sample"
BASIS_LARGE = "large municipal centre (assumed office)"
BASIS_SEAT = "county seat (assumed office)"
BASIS_SPARSE = "centre of a sparsely populated area (assumed office)"
BASIS_REACH = "assumed office: no other office within the distance limit of this municipality"


@dataclass(frozen=True)
class OfficeSpec:
    """An existing office: its municipality and, for a second office in a city, a place.

    lat/lon None means the office sits at the municipality's GeoNames main place.
    Hand-placed coordinates are approximate (a few hundred metres) and only matter
    for which of a city's offices is nearer to its neighbours.
    """

    municipality: str
    basis: str
    name: str | None = None
    lat: float | None = None
    lon: float | None = None


EXISTING_OFFICES: tuple[OfficeSpec, ...] = (
    # Stockholms län
    OfficeSpec("Stockholm", BASIS_STHLM, "Stockholm Kista", 59.4030, 17.9447),
    OfficeSpec("Stockholm", BASIS_STHLM, "Stockholm Odenplan", 59.3429, 18.0498),
    OfficeSpec("Stockholm", BASIS_STHLM, "Stockholm Kungsholmen", 59.3326, 18.0297),
    OfficeSpec("Stockholm", BASIS_STHLM, "Stockholm Liljeholmen", 59.3105, 18.0227),
    OfficeSpec("Botkyrka", BASIS_STHLM, "Hallunda", 59.2436, 17.8256),
    OfficeSpec("Sundbyberg", BASIS_STHLM),
    OfficeSpec("Järfälla", BASIS_OPEN_P2, "Jakobsberg"),
    OfficeSpec("Sollentuna", BASIS_OPEN_P2),
    OfficeSpec("Södertälje", BASIS_LARGE),
    OfficeSpec("Södertälje", BASIS_SECOND, "Södertälje Ronna", 59.2055, 17.5985),
    OfficeSpec("Nynäshamn", BASIS_OPEN_P1),
    OfficeSpec("Haninge", BASIS_LARGE, "Handen"),
    OfficeSpec("Haninge", BASIS_CLOSING, "Brandbergen", 59.2245, 18.1655),
    OfficeSpec("Norrtälje", BASIS_LARGE),
    # Uppsala län
    OfficeSpec("Uppsala", BASIS_SEAT),
    OfficeSpec("Uppsala", BASIS_SECOND, "Uppsala Gottsunda", 59.8095, 17.6265),
    OfficeSpec("Östhammar", BASIS_OPEN_P2),
    # Södermanlands län
    OfficeSpec("Eskilstuna", BASIS_LARGE),
    OfficeSpec("Eskilstuna", BASIS_SECOND, "Eskilstuna Fröslunda", 59.3800, 16.5380),
    OfficeSpec("Nyköping", BASIS_SEAT),
    # Östergötlands län
    OfficeSpec("Linköping", BASIS_SEAT),
    OfficeSpec("Linköping", BASIS_SECOND, "Linköping Skäggetorp", 58.4275, 15.5880),
    OfficeSpec("Norrköping", BASIS_CLOSING, "Norrköping City"),
    OfficeSpec("Norrköping", BASIS_SECOND, "Norrköping Hageby", 58.5635, 16.2075),
    OfficeSpec("Motala", BASIS_CLOSING),
    OfficeSpec("Finspång", BASIS_OPEN_P1),
    # Jönköpings län
    OfficeSpec("Jönköping", BASIS_SEAT),
    OfficeSpec("Jönköping", BASIS_SECOND, "Jönköping Råslätt", 57.7345, 14.1440),
    OfficeSpec("Värnamo", BASIS_LARGE),
    OfficeSpec("Nässjö", BASIS_LARGE),
    OfficeSpec("Vetlanda", BASIS_LARGE),
    # Kronobergs län
    OfficeSpec("Växjö", BASIS_SEAT),
    OfficeSpec("Växjö", BASIS_CLOSING, "Växjö Araby", 56.8885, 14.7725),
    OfficeSpec("Ljungby", BASIS_LARGE),
    OfficeSpec("Tingsryd", BASIS_OPEN_P2),
    # Kalmar län
    OfficeSpec("Kalmar", BASIS_SEAT),
    OfficeSpec("Västervik", BASIS_LARGE),
    OfficeSpec("Oskarshamn", BASIS_LARGE),
    OfficeSpec("Borgholm", BASIS_OPEN_P1),
    # Gotlands län
    OfficeSpec("Gotland", BASIS_SEAT),
    # Blekinge län
    OfficeSpec("Karlskrona", BASIS_SEAT),
    OfficeSpec("Karlshamn", BASIS_LARGE),
    OfficeSpec("Sölvesborg", BASIS_OPEN_P1),
    # Skåne län
    OfficeSpec("Malmö", BASIS_SEAT, "Malmö City"),
    OfficeSpec("Malmö", BASIS_SECOND, "Malmö Rosengård", 55.5860, 13.0430),
    OfficeSpec("Helsingborg", BASIS_LARGE),
    OfficeSpec("Helsingborg", BASIS_SECOND, "Helsingborg Drottninghög", 56.0630, 12.7320),
    OfficeSpec("Lund", BASIS_LARGE),
    OfficeSpec("Kristianstad", BASIS_LARGE),
    OfficeSpec("Landskrona", BASIS_CLOSING),
    OfficeSpec("Hässleholm", BASIS_LARGE),
    OfficeSpec("Ystad", BASIS_LARGE),
    OfficeSpec("Simrishamn", BASIS_CLOSING),
    # Hallands län
    OfficeSpec("Halmstad", BASIS_SEAT),
    OfficeSpec("Varberg", BASIS_LARGE),
    OfficeSpec("Falkenberg", BASIS_LARGE),
    OfficeSpec("Laholm", BASIS_OPEN_P1),
    # Västra Götalands län
    OfficeSpec("Göteborg", BASIS_SEAT, "Göteborg City", 57.7087, 11.9690),
    OfficeSpec("Göteborg", BASIS_SECOND, "Göteborg Angered", 57.7965, 12.0485),
    OfficeSpec("Göteborg", BASIS_LARGE, "Göteborg Frölunda", 57.6530, 11.9110),
    OfficeSpec("Göteborg", BASIS_LARGE, "Göteborg Hisingen", 57.7205, 11.9535),
    OfficeSpec("Borås", BASIS_LARGE),
    OfficeSpec("Trollhättan", BASIS_LARGE),
    OfficeSpec("Uddevalla", BASIS_LARGE),
    OfficeSpec("Skövde", BASIS_LARGE),
    OfficeSpec("Kungälv", BASIS_CLOSING),
    OfficeSpec("Lidköping", BASIS_LARGE),
    OfficeSpec("Stenungsund", BASIS_OPEN_P2),
    OfficeSpec("Lysekil", BASIS_OPEN_P2),
    OfficeSpec("Ulricehamn", BASIS_OPEN_2021),
    OfficeSpec("Åmål", BASIS_CLOSING),
    OfficeSpec("Strömstad", BASIS_SPARSE),
    # Värmlands län
    OfficeSpec("Karlstad", BASIS_SEAT),
    OfficeSpec("Kristinehamn", BASIS_LARGE),
    OfficeSpec("Arvika", BASIS_CLOSING),
    OfficeSpec("Filipstad", BASIS_CLOSING + "; opened 2022-24 phase 1"),
    OfficeSpec("Torsby", BASIS_OPEN_2020),
    OfficeSpec("Hagfors", BASIS_SPARSE),
    # Örebro län
    OfficeSpec("Örebro", BASIS_SEAT),
    OfficeSpec("Karlskoga", BASIS_LARGE),
    OfficeSpec("Lindesberg", BASIS_CLOSING),
    OfficeSpec("Askersund", BASIS_OPEN_P2),
    # Västmanlands län
    OfficeSpec("Västerås", BASIS_SEAT),
    OfficeSpec("Sala", BASIS_LARGE),
    # Dalarnas län
    OfficeSpec("Falun", BASIS_SEAT),
    OfficeSpec("Borlänge", BASIS_LARGE),
    OfficeSpec("Mora", BASIS_LARGE),
    OfficeSpec("Ludvika", BASIS_LARGE),
    OfficeSpec("Avesta", BASIS_LARGE),
    OfficeSpec("Malung-Sälen", BASIS_SPARSE),
    OfficeSpec("Vansbro", BASIS_OPEN_2020),
    # Gävleborgs län
    OfficeSpec("Gävle", BASIS_SEAT),
    OfficeSpec("Hudiksvall", BASIS_LARGE),
    OfficeSpec("Bollnäs", BASIS_CLOSING),
    OfficeSpec("Söderhamn", BASIS_LARGE),
    OfficeSpec("Ljusdal", BASIS_SPARSE),
    # Västernorrlands län
    OfficeSpec("Sundsvall", BASIS_LARGE),
    OfficeSpec("Härnösand", BASIS_SEAT),
    OfficeSpec("Örnsköldsvik", BASIS_LARGE),
    OfficeSpec("Sollefteå", BASIS_SPARSE),
    OfficeSpec("Ånge", BASIS_OPEN_P2),
    # Jämtlands län
    OfficeSpec("Östersund", BASIS_SEAT),
    OfficeSpec("Strömsund", BASIS_SPARSE),
    OfficeSpec("Härjedalen", BASIS_SPARSE),
    OfficeSpec("Åre", BASIS_OPEN_P1),
    # Västerbottens län
    OfficeSpec("Umeå", BASIS_SEAT),
    OfficeSpec("Skellefteå", BASIS_LARGE),
    OfficeSpec("Lycksele", BASIS_SPARSE),
    OfficeSpec("Vilhelmina", BASIS_SPARSE),
    OfficeSpec("Storuman", BASIS_OPEN_2020),
    OfficeSpec("Åsele", BASIS_OPEN_2020),
    OfficeSpec("Nordmaling", BASIS_OPEN_P2),
    # Norrbottens län
    OfficeSpec("Luleå", BASIS_SEAT),
    OfficeSpec("Piteå", BASIS_LARGE),
    OfficeSpec("Boden", BASIS_OPEN_P1),
    OfficeSpec("Kiruna", BASIS_SPARSE),
    OfficeSpec("Gällivare", BASIS_SPARSE),
    OfficeSpec("Kalix", BASIS_SPARSE),
    OfficeSpec("Haparanda", BASIS_SPARSE),
    OfficeSpec("Arvidsjaur", BASIS_SPARSE),
    OfficeSpec("Pajala", BASIS_SPARSE),
    OfficeSpec("Jokkmokk", BASIS_SPARSE),
)

# Which agencies staff an office today: FK and SKV everywhere; PM and AF where the
# municipality has at least this many residents, and at a city's second office; then
# `ensure_agency_reach` adds an agency wherever a municipality would otherwise lack it.
PM_MIN_POPULATION = 12_000
AF_MIN_POPULATION = 25_000

# Budgets (sweden.xlsx), tuned with the engine (see inputs/README.md).  Without budgets
# the cheapest plan spends about 760 MSEK a year and 90 MSEK once.  The one-off budget
# binds; the annual budget (10 % below today's 866 MSEK as the engine prices it) is met
# by that plan.  Making the annual budget bind too (e.g. 755 MSEK a year with 80 MSEK
# once) is feasible but leaves a gap of about 0.2 % after 60 s with HiGHS.
SWEDEN_BUDGET_ANNUAL = 780_000_000.0
SWEDEN_BUDGET_ONE_OFF = 80_000_000.0

# Solver settings written to the Swedish samples.
TIME_LIMIT_S = 60
MIP_GAP = 1e-4
# The national sample stops at a proven 1 % gap (9 MSEK a year on a 900 MSEK network):
# HiGHS proves that in about 7 s here, while 0.5 % takes about 20 s and the default 0.01 %
# over 60 s.  Set mip_gap to 0.0001 in the workbook to ask for more.
SWEDEN_MIP_GAP = 0.01
# SEK per visit and km of one-way distance: a return trip by car at Skatteverket's
# tax-free mileage allowance (25 SEK per 10 km).  Pricing travel sends each area to a
# near office, and without it the assignment LP is so degenerate that HiGHS needs ~20 s
# for the root relaxation alone.
TRAVEL_COST_PER_KM = 5.0
# Fractional staff: whole staff per agency made HiGHS find no plan within 60 s.
STAFF_INTEGER = False
STAFF_INTEGER_NOTE = (
    "false: staff are full-time equivalents per agency (service-office staff are generalists "
    "employed by Statens servicecenter, so an agency's share at an office need not be whole)."
)


@dataclass(frozen=True)
class Country:
    """What a national sample sets for itself: money, premises, travel and solver settings.

    The functions below that price premises, size offices and write settings take one of
    these, so the Swedish and the Finnish sample share their code and differ in data only.
    """

    currency: str
    rent_metro_m2: float  # rent a year per m2 in the metro municipalities
    rent_city_m2: float  # in other municipalities with >= CITY_POPULATION residents
    rent_town_m2: float  # everywhere else
    metro_codes: frozenset[str]  # municipality codes with metro rent
    metro_prefixes: tuple[str, ...]  # and every code starting with one of these
    close_cost_fixed: float
    open_cost_fixed: float
    open_cost_per_desk: float
    money_step: float  # money is rounded to this step (the workbook is read by people)
    max_fitted: int
    travel_cost_per_km: float
    time_limit_s: float
    circuity_note: str
    staff_integer_note: str


CITY_POPULATION = 100_000

SWEDEN = Country(
    currency="SEK",
    rent_metro_m2=RENT_METRO_SEK_M2,
    rent_city_m2=RENT_CITY_SEK_M2,
    rent_town_m2=RENT_TOWN_SEK_M2,
    metro_codes=frozenset(METRO_MUNICIPALITIES),
    metro_prefixes=("01",),
    close_cost_fixed=CLOSE_COST_FIXED,
    open_cost_fixed=OPEN_COST_FIXED,
    open_cost_per_desk=OPEN_COST_PER_DESK,
    money_step=10_000.0,
    max_fitted=MAX_FITTED,
    travel_cost_per_km=TRAVEL_COST_PER_KM,
    time_limit_s=TIME_LIMIT_S,
    circuity_note="Road km per straight-line km (about 1.2 in Sweden).",
    staff_integer_note=STAFF_INTEGER_NOTE,
)

EARTH_RADIUS_KM = 6371.0088
REACH_MARGIN = 1.02


# --------------------------------------------------------------------------------------
# Reading the reference data
# --------------------------------------------------------------------------------------


def read_municipalities(data_dir: Path) -> pd.DataFrame:
    """The 290 municipalities, codes kept as strings so that '0114' keeps its zero."""
    path = data_dir / "se_municipalities.csv"
    frame = pd.read_csv(path, dtype={"code": str, "county_code": str}, encoding="utf-8")
    if len(frame) != 290:
        raise SystemExit(f"{path}: expected 290 municipalities, found {len(frame)}")
    # GeoNames calls Göteborg's main place "Gothenburg"; offices are named in Swedish.
    frame["main_place"] = frame["main_place"].replace({"Gothenburg": "Göteborg"})
    frame["main_place_source"] = "GeoNames main place"
    return frame.sort_values("code", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Geometry: only used here for sizing desks and checking reachability
# --------------------------------------------------------------------------------------


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distances, every row point against every column point.

    A sphere is within about 0.5 % of the WGS-84 geodesic the engine uses; the build
    only needs it for sizing and for a reachability check that keeps a safety margin.
    """
    p1, p2 = np.radians(lat1)[:, None], np.radians(lat2)[None, :]
    dphi = p2 - p1
    dlmb = np.radians(lon2)[None, :] - np.radians(lon1)[:, None]
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def distances_km(rows: pd.DataFrame, columns: pd.DataFrame) -> np.ndarray:
    """`haversine_km` between two frames with lat and lon columns."""
    return haversine_km(
        rows["lat"].to_numpy(), rows["lon"].to_numpy(), columns["lat"].to_numpy(), columns["lon"].to_numpy()
    )


# --------------------------------------------------------------------------------------
# Costs and sizes
# --------------------------------------------------------------------------------------


def rent_per_m2(municipality_code: str, population: int, country: Country) -> float:
    """Local office rent level: metro, city or town."""
    if municipality_code.startswith(country.metro_prefixes) or municipality_code in country.metro_codes:
        return country.rent_metro_m2
    if population >= CITY_POPULATION:
        return country.rent_city_m2
    return country.rent_town_m2


def round_to(value: float, step: float) -> float:
    """Round money to a readable step (the workbook is read by people)."""
    return float(step * round(value / step))


def annual_rent(desks: int, rent_m2: float, country: Country) -> float:
    return round_to((FIXED_FLOOR_M2 + FLOOR_M2_PER_DESK * desks) * rent_m2, country.money_step)


def close_cost(rent: float, country: Country) -> float:
    return round_to(country.close_cost_fixed + CLOSE_COST_RENT_SHARE * rent, country.money_step)


def open_cost(desks: int, country: Country) -> float:
    return round_to(country.open_cost_fixed + country.open_cost_per_desk * desks, country.money_step)


def candidate_fitted_desks(population: int) -> int:
    """Premises on offer in a town: bigger towns offer bigger premises."""
    if population >= 80_000:
        return 20
    if population >= 30_000:
        return 15
    return 10


def capacity(fitted_desks: int) -> int:
    """The `desks` column: the most staff the premises can hold (see DESK_CAPACITY_FACTOR)."""
    return int(round(DESK_CAPACITY_FACTOR * fitted_desks))


# --------------------------------------------------------------------------------------
# Offices today and candidate premises: shared by the samples
# --------------------------------------------------------------------------------------


def visits_by_area(areas: pd.DataFrame, agencies: Sequence[AgencySpec]) -> pd.DataFrame:
    """Annual visits per area and agency: population times the visit rate."""
    return pd.DataFrame(
        {a.agency_id: areas["population"].to_numpy() * a.visits_per_capita for a in agencies},
        index=areas["code"],
    )


def reachable(dist_km: np.ndarray, limit_km: float) -> np.ndarray:
    """Within the limit in road km, with a 2 % margin for sphere versus ellipsoid."""
    return dist_km * CIRCUITY_FACTOR * REACH_MARGIN <= limit_km


def agency_limit(agency: AgencySpec) -> float:
    """The agency's own limit, else the samples' max_distance_km setting."""
    return agency.max_distance_km if agency.max_distance_km is not None else MAX_DISTANCE_KM


def ensure_agency_reach(
    hosts: Sequence[Sequence[str]],
    host_points: pd.DataFrame,
    areas: pd.DataFrame,
    visits: pd.DataFrame,
    agencies: Sequence[AgencySpec],
    order: Sequence[str],
) -> list[list[str]]:
    """Today's agencies per host site, with an agency added wherever an area would lack it.

    A rule of thumb leaves an agency out of some sites; where that leaves an area with
    visits to the agency but no site of it within the agency's limit, the agency is added
    to the site nearest to that area (areas in the frame's order).  Today's network then
    serves every agency everywhere, as a real network meeting the distance rule would, and
    the engine can price it next to the plan.  `host_points` has the hosts' lat and lon;
    `order` is the order of ids in a list.
    """
    hosts = [list(ids) for ids in hosts]
    dist = distances_km(areas, host_points)
    for agency in agencies:
        ok = reachable(dist, agency_limit(agency))
        needed = visits[agency.agency_id].to_numpy() > 0
        has = np.array([agency.agency_id in ids for ids in hosts])
        for i in range(len(areas)):
            if not needed[i] or (ok[i] & has).any():
                continue
            nearest = int(dist[i].argmin())
            hosts[nearest] = [a for a in order if a in hosts[nearest] or a == agency.agency_id]
            has[nearest] = True
    return hosts


def catchment_staff(
    offices: pd.DataFrame, areas: pd.DataFrame, visits: pd.DataFrame, agencies: Sequence[AgencySpec]
) -> np.ndarray:
    """Staff each office needs today, if every area went to its nearest office town.

    A municipality's demand point (Sweden) would send a whole city to one of its offices;
    instead each area is assigned to the nearest *municipality with offices*, and that load
    is split evenly over its offices.
    """
    towns = offices.groupby("municipality_code", sort=True).agg(
        lat=("lat", "mean"), lon=("lon", "mean"), n=("site_id", "size")
    )
    dist = distances_km(areas, towns)
    nearest = towns.index.to_numpy()[dist.argmin(axis=1)]
    need_per_area = sum(visits[a.agency_id].to_numpy() / a.visits_per_staff for a in agencies)
    town_need = pd.Series(need_per_area, index=nearest).groupby(level=0).sum()
    per_office = town_need.reindex(towns.index, fill_value=0.0) / towns["n"]
    return per_office.reindex(offices["municipality_code"]).to_numpy()


def size_offices(
    offices: pd.DataFrame,
    areas: pd.DataFrame,
    visits: pd.DataFrame,
    agencies: Sequence[AgencySpec],
    country: Country,
) -> pd.DataFrame:
    """Desks, rent and closing cost of each existing office (`agencies_now` set), from its catchment."""
    offices = offices.copy()
    min_staff = {a.agency_id: a.min_staff for a in agencies}
    need = catchment_staff(offices, areas, visits, agencies)
    floor = np.array([sum(min_staff[a] for a in ids) for ids in offices["agencies_now"]])
    fitted = np.maximum(np.ceil(need * FITTED_HEADROOM) + FITTED_SPARE, floor + FITTED_SPARE)
    offices["staff_need_today"] = need
    offices["fitted_desks"] = np.clip(fitted, MIN_FITTED, country.max_fitted).astype(int)
    offices["desks"] = [capacity(d) for d in offices["fitted_desks"]]
    rates = [rent_per_m2(c, p, country) for c, p in zip(offices["municipality_code"], offices["population"])]
    offices["annual_cost"] = [annual_rent(d, r, country) for d, r in zip(offices["fitted_desks"], rates)]
    offices["close_cost"] = [close_cost(r, country) for r in offices["annual_cost"]]
    return offices


def candidate_premises(
    m: pd.Series, site_id: str, name: str, point: tuple[float, float], coordinates: str, basis: str, country: Country
) -> dict[str, object]:
    """A candidate site in municipality `m`: premises sized by its population, priced locally."""
    fitted = candidate_fitted_desks(int(m["population"]))
    return {
        "site_id": site_id,
        "name": name,
        "municipality_code": m["code"],
        "municipality": m["name"],
        "lat": float(point[0]),
        "lon": float(point[1]),
        "coordinates": coordinates,
        "fitted_desks": fitted,
        "desks": capacity(fitted),
        "annual_cost": annual_rent(fitted, rent_per_m2(m["code"], int(m["population"]), country), country),
        "open_cost": open_cost(fitted, country),
        "basis": basis,
    }


def candidate_rows(municipalities: pd.DataFrame, office_codes: set[str], country: Country, basis: str) -> pd.DataFrame:
    """Candidate premises at the main place (centre) of every municipality without an office."""
    free = municipalities[~municipalities["code"].isin(office_codes)]
    rows = [
        candidate_premises(
            m, f"C{m['code']}", m["main_place"], (m["main_place_lat"], m["main_place_lon"]), m["main_place_source"],
            basis, country,
        )
        for _, m in free.iterrows()
    ]
    return pd.DataFrame(rows)


def todays_network(
    offices: pd.DataFrame,
    areas: pd.DataFrame,
    visits: pd.DataFrame,
    agencies: Sequence[AgencySpec],
    staff_integer: bool = STAFF_INTEGER,
) -> dict[str, float]:
    """A rough estimate of today's network: staff, annual cost, areas out of reach.

    Staff per office and agency: today's catchment visits over visits_per_staff (rounded
    up when staff are whole), at least min_staff.  Used for the report and to pitch the
    budgets against today's cost; the engine prices today's network exactly.
    """
    total_visits = float(visits.to_numpy().sum())
    share = {a.agency_id: float(visits[a.agency_id].sum()) / total_visits for a in agencies}
    staff = 0.0
    presence = 0.0
    staff_cost = 0.0
    by_id = {a.agency_id: a for a in agencies}
    for need, ids in zip(offices["staff_need_today"], offices["agencies_now"]):
        # split the office's need over its agencies in proportion to national visits
        weights = sum(share[i] for i in ids)
        for agency_id in ids:
            a = by_id[agency_id]
            n = need * share[agency_id] / weights
            if staff_integer:
                n = math.ceil(n - 1e-9)
            n = max(float(a.min_staff), n)
            staff += n
            staff_cost += n * a.staff_cost
            presence += a.presence_cost
    rent = float(offices["annual_cost"].sum())
    dist = distances_km(areas, offices)
    out_of_reach = int(((dist.min(axis=1) * CIRCUITY_FACTOR) > MAX_DISTANCE_KM).sum())
    return {
        "total_visits": total_visits,
        "staff_visit_driven": float(sum(visits[a.agency_id].sum() / a.visits_per_staff for a in agencies)),
        "today_staff_estimate": staff,
        "today_rent": rent,
        "today_presence": presence,
        "today_staff_cost_estimate": staff_cost,
        "today_annual_estimate": rent + presence + staff_cost,
        "areas_out_of_reach_today": float(out_of_reach),
    }


# --------------------------------------------------------------------------------------
# The Swedish sample
# --------------------------------------------------------------------------------------

# Today's agencies are listed in this order in `agencies_now`.
SWEDEN_PRESENCE_ORDER = ("FK", "SKV", "PM", "AF")
SWEDEN_CANDIDATE_BASIS = "candidate premises at the municipality's main place"


def agencies_now(population: int, second_office: bool, agencies: Sequence[AgencySpec]) -> list[str]:
    """Today's agencies at an office: a rule of thumb by the size of the town."""
    ids = ["FK", "SKV"]
    if population >= PM_MIN_POPULATION or second_office:
        ids.append("PM")
    if population >= AF_MIN_POPULATION or second_office:
        ids.append("AF")
    known = {a.agency_id for a in agencies}
    return [i for i in SWEDEN_PRESENCE_ORDER if i in ids and i in known]


def existing_office_rows(municipalities: pd.DataFrame, fill_gaps: bool = True) -> pd.DataFrame:
    """The approximate existing network, one row per office, before sizing.

    With `fill_gaps`, a municipality that no listed office reaches within the limit gets
    an assumed office at its main place, so that today's network is itself a feasible
    plan and the engine can report today's figures next to the plan's.
    """
    by_name = municipalities.set_index("name")
    unknown = sorted({o.municipality for o in EXISTING_OFFICES} - set(by_name.index))
    if unknown:
        raise SystemExit(f"office municipalities not in the data: {unknown}")
    specs = list(EXISTING_OFFICES)
    if fill_gaps:
        specs += [OfficeSpec(name, BASIS_REACH) for name in unreached_municipalities(municipalities, specs)]
    rows = []
    seen: dict[str, int] = {}
    for office in specs:
        m = by_name.loc[office.municipality]
        seen[m["code"]] = seen.get(m["code"], 0) + 1
        hand_placed = office.lat is not None
        rows.append(
            {
                "name": office.name or m["main_place"],
                "municipality_code": m["code"],
                "municipality": office.municipality,
                "population": int(m["population"]),
                "lat": office.lat if hand_placed else float(m["main_place_lat"]),
                "lon": office.lon if hand_placed else float(m["main_place_lon"]),
                "coordinates": "approximate, placed by hand" if hand_placed else "GeoNames main place",
                "second_office": seen[m["code"]] > 1,
                "basis": office.basis,
            }
        )
    frame = pd.DataFrame(rows)
    frame = frame.sort_values(["municipality_code"], kind="stable").reset_index(drop=True)
    frame.insert(0, "site_id", [f"S{i:03d}" for i in range(1, len(frame) + 1)])
    return frame


def office_point(spec: OfficeSpec, by_name: pd.DataFrame) -> tuple[float, float]:
    m = by_name.loc[spec.municipality]
    if spec.lat is not None and spec.lon is not None:
        return spec.lat, spec.lon
    return float(m["main_place_lat"]), float(m["main_place_lon"])


def unreached_municipalities(municipalities: pd.DataFrame, specs: Sequence[OfficeSpec]) -> list[str]:
    """Names of municipalities whose demand point no office reaches, in code order."""
    by_name = municipalities.set_index("name")
    points = np.array([office_point(o, by_name) for o in specs])
    dist = haversine_km(municipalities["lat"].to_numpy(), municipalities["lon"].to_numpy(), points[:, 0], points[:, 1])
    far = ~reachable(dist, MAX_DISTANCE_KM).any(axis=1)
    return municipalities.loc[far, "name"].tolist()


def size_existing(offices: pd.DataFrame, municipalities: pd.DataFrame, agencies: Sequence[AgencySpec]) -> pd.DataFrame:
    """Today's agencies (the size rule, then reach), desks, rent and closing cost of each office."""
    offices = offices.copy()
    visits = visits_by_area(municipalities, agencies)
    hosts = [agencies_now(p, s, agencies) for p, s in zip(offices["population"], offices["second_office"])]
    offices["agencies_now"] = ensure_agency_reach(
        hosts, offices, municipalities, visits, agencies, SWEDEN_PRESENCE_ORDER
    )
    return size_offices(offices, municipalities, visits, agencies, SWEDEN)


def reach_candidates(municipalities: pd.DataFrame, sites: pd.DataFrame, limit_km: float) -> pd.DataFrame:
    """Extra candidates at the demand point of any municipality no site can reach.

    The problem must be feasible: every municipality needs a site within the limit.
    A 2 % margin covers the sphere-versus-ellipsoid difference.
    """
    unreachable = municipalities[~reachable(distances_km(municipalities, sites), limit_km).any(axis=1)]
    rows = [
        candidate_premises(
            m, f"X{m['code']}", f"{m['name']} (demand point)", (m["lat"], m["lon"]), "municipality demand point",
            "added so that the municipality can be reached within the limit", SWEDEN,
        )
        for _, m in unreachable.iterrows()
    ]
    return pd.DataFrame(rows, columns=list(sites.columns) if not rows else None)


def agencies_sheet(agencies: Sequence[AgencySpec]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "agency_id": a.agency_id,
                "name": a.name,
                "max_distance_km": a.max_distance_km,
                "staff_cost": a.staff_cost,
                "visits_per_staff": a.visits_per_staff,
                "min_staff": a.min_staff,
                "presence_cost": a.presence_cost,
                "setup_cost": a.setup_cost,
                "visits_per_capita": a.visits_per_capita,
                "budget": None,
                "note": a.note,
            }
            for a in agencies
        ]
    )


def areas_sheet(areas: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """The areas sheet from a frame with code, name, lat, lon, population and county; `extra`
    columns follow as they are (the engine ignores them)."""
    sheet = pd.DataFrame(
        {
            "area_id": areas["code"].astype(str),
            "name": areas["name"],
            "lat": areas["lat"],
            "lon": areas["lon"],
            "population": areas["population"].astype(int),
            "region": areas["county"],
        }
    )
    for column in extra:
        sheet[column] = areas[column].to_numpy()
    return sheet


def sites_sheet(existing: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Existing offices first, then candidates, with the contract's columns first."""
    ex = pd.DataFrame(
        {
            "site_id": existing["site_id"],
            "name": existing["name"],
            "lat": existing["lat"],
            "lon": existing["lon"],
            "status": "existing",
            "annual_cost": existing["annual_cost"],
            "open_cost": None,
            "close_cost": existing["close_cost"],
            "desks": existing["desks"],
            "agencies_now": [",".join(ids) for ids in existing["agencies_now"]],
            "force": None,
            "fitted_desks": existing["fitted_desks"],
            "municipality_code": existing["municipality_code"],
            "municipality": existing["municipality"],
            "coordinates": existing["coordinates"],
            "basis": existing["basis"],
        }
    )
    ca = pd.DataFrame(
        {
            "site_id": candidates["site_id"],
            "name": candidates["name"],
            "lat": candidates["lat"],
            "lon": candidates["lon"],
            "status": "candidate",
            "annual_cost": candidates["annual_cost"],
            "open_cost": candidates["open_cost"],
            "close_cost": None,
            "desks": candidates["desks"],
            "agencies_now": None,
            "force": None,
            "fitted_desks": candidates["fitted_desks"],
            "municipality_code": candidates["municipality_code"],
            "municipality": candidates["municipality"],
            "coordinates": candidates["coordinates"],
            "basis": candidates["basis"],
        }
    )
    return pd.concat([ex, ca], ignore_index=True)


def settings_sheet(rows: Iterable[tuple[str, object, str]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["key", "value", "description"])


def common_settings(
    country: Country,
    budget_annual: float | None,
    budget_one_off: float | None,
    staff_integer: bool = STAFF_INTEGER,
    mip_gap: float = MIP_GAP,
) -> list[tuple[str, object, str]]:
    """Settings rows shared by the samples (the country's money and the budgets differ)."""
    money = country.currency
    return [
        ("max_distance_km", MAX_DISTANCE_KM, "Longest acceptable trip for every agency without its own limit (km)."),
        ("circuity_factor", CIRCUITY_FACTOR, country.circuity_note),
        ("budget_annual", budget_annual, f"Most the network may cost a year ({money}): rent + presence + staff."),
        (
            "budget_one_off", budget_one_off,
            f"Most the change may cost once ({money}): openings, closures, agency setups.",
        ),
        ("amortization_years", AMORTIZATION_YEARS, "One-off costs count 1/L a year in the objective."),
        (
            "travel_cost_per_km", country.travel_cost_per_km,
            f"{money} per visit and km; 0 = residents' travel is not priced.",
        ),
        ("min_offices", None, "Fewest offices open (blank = no limit)."),
        ("max_offices", None, "Most offices open (blank = no limit)."),
        ("objective", "cost", "cost = cheapest plan reaching everyone; coverage = reach most visits first."),
        ("merge_radius_km", MERGE_RADIUS_KM, "A closed office is a merge when a kept office within this radius takes all its agencies."),
        (
            "staff_integer", staff_integer,
            country.staff_integer_note if not staff_integer else "Whole staff per office and agency.",
        ),
        ("time_limit_s", country.time_limit_s, "Solver time limit (s)."),
        ("mip_gap", mip_gap, "Relative optimality gap at which the solver stops (0.01 = within 1 % of optimal)."),
    ]


def build_sweden(municipalities: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """All sheets of sweden.xlsx and the figures reported about it."""
    agencies = AGENCIES
    offices = size_existing(existing_office_rows(municipalities), municipalities, agencies)
    candidates = candidate_rows(municipalities, set(offices["municipality_code"]), SWEDEN, SWEDEN_CANDIDATE_BASIS)
    sites = sites_sheet(offices, candidates)
    extra = reach_candidates(municipalities, sites, MAX_DISTANCE_KM)
    if len(extra):
        sites = pd.concat([sites, sites_sheet(offices.iloc[0:0], extra)], ignore_index=True)
    today = todays_network(offices, municipalities, visits_by_area(municipalities, agencies), agencies)
    budget_annual, budget_one_off = SWEDEN_BUDGET_ANNUAL, SWEDEN_BUDGET_ONE_OFF
    sheets = {
        "settings": settings_sheet(common_settings(SWEDEN, budget_annual, budget_one_off, mip_gap=SWEDEN_MIP_GAP)),
        "agencies": agencies_sheet(agencies),
        "areas": areas_sheet(municipalities),
        "sites": sites,
    }
    report = {
        **today,
        "areas": float(len(municipalities)),
        "sites": float(len(sites)),
        "existing": float((sites["status"] == "existing").sum()),
        "candidates": float((sites["status"] == "candidate").sum()),
        "extra_reach_candidates": float(len(extra)),
        "municipalities_with_office": float(offices["municipality_code"].nunique()),
        "budget_annual": float(budget_annual),
        "budget_one_off": float(budget_one_off),
        "desks_existing": float(offices["desks"].sum()),
    }
    return sheets, report


# --------------------------------------------------------------------------------------
# The demo sample: small enough to read in a minute
# --------------------------------------------------------------------------------------

DEMO_COUNTY = "17"  # Värmlands län
DEMO_AREAS = ("Karlstad", "Hammarö", "Kil", "Forshaga", "Grums", "Kristinehamn", "Storfors", "Filipstad")
DEMO_EXISTING = ("Karlstad", "Kristinehamn", "Filipstad")
DEMO_CANDIDATES = ("Kil", "Storfors")
DEMO_AGENCIES = ("SKV", "FK")
# Without budgets the demo's cheapest plan replaces Kristinehamn and Filipstad by one new
# office in Storfors (3.3 MSEK once); 2 MSEK once cannot pay for that, so the budgeted
# plan closes Kristinehamn only.  The annual budget is below today's 11.6 MSEK.
DEMO_BUDGET_ANNUAL = 11_000_000.0
DEMO_BUDGET_ONE_OFF = 2_000_000.0


def build_demo(municipalities: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Eight Värmland municipalities, three offices, two candidate premises, two agencies."""
    agencies = tuple(a for a in AGENCIES if a.agency_id in DEMO_AGENCIES)
    county = municipalities[municipalities["county_code"] == DEMO_COUNTY].set_index("name")
    areas = county.loc[list(DEMO_AREAS)].reset_index()
    offices = existing_office_rows(municipalities, fill_gaps=False)
    offices = offices[offices["municipality"].isin(DEMO_EXISTING)].copy()
    offices["site_id"] = [f"S{i}" for i in range(1, len(offices) + 1)]
    offices = size_existing(offices, areas, agencies)
    cand = candidate_rows(county.loc[list(DEMO_CANDIDATES)].reset_index(), set(), SWEDEN, SWEDEN_CANDIDATE_BASIS)
    cand["site_id"] = [f"C{i}" for i in range(1, len(cand) + 1)]
    sites = sites_sheet(offices, cand)
    sites = sites.drop(columns=["fitted_desks", "municipality_code", "municipality", "coordinates", "basis"])
    today = todays_network(offices, areas, visits_by_area(areas, agencies), agencies)
    budget_annual, budget_one_off = DEMO_BUDGET_ANNUAL, DEMO_BUDGET_ONE_OFF
    sheets = {
        "settings": settings_sheet(
            [
                r
                for r in common_settings(SWEDEN, budget_annual, budget_one_off, staff_integer=True)
                if r[0] not in {"min_offices", "max_offices"}
            ]
        ),
        "agencies": agencies_sheet(agencies).drop(columns=["budget", "note"]),
        "areas": areas_sheet(areas),
        "sites": sites,
    }
    report = {
        **today,
        "areas": float(len(areas)),
        "sites": float(len(sites)),
        "budget_annual": budget_annual,
        "budget_one_off": budget_one_off,
    }
    return sheets, report


# --------------------------------------------------------------------------------------
# The Finnish sample: 3,024 postcode areas, 308 municipal centres, money in EUR
# --------------------------------------------------------------------------------------

FI_MUNICIPALITIES = 308
FI_POSTCODE_AREAS = 3024

FI_AGENCIES: tuple[AgencySpec, ...] = (
    AgencySpec(
        "KELA", "Kela", 0.20, 3500, 62_000, 20_000, 40_000, 1, None,
        "Social security benefits (sickness, family, housing, unemployment, pensions): the "
        "largest counter service. About 150 service points today (assumed).",
    ),
    AgencySpec(
        "VERO", "Verohallinto", 0.05, 3000, 62_000, 25_000, 50_000, 1, 100.0,
        "Tax administration: most errands are online or by phone, and the office network is "
        "sparse (about 40-50 offices, assumed), so 100 km instead of the 50 km setting.",
    ),
    AgencySpec(
        "POL", "Poliisi, lupapalvelut", 0.12, 4000, 62_000, 30_000, 60_000, 1, 80.0,
        "Police permit service: passports and ID cards need a visit for the photo and "
        "fingerprints, booked ahead. About 100 service points (assumed): 80 km. Presence and "
        "setup include the fingerprint station.",
    ),
    AgencySpec(
        "TE", "Työllisyyspalvelut", 0.10, 3000, 62_000, 15_000, 30_000, 1, None,
        "Employment services (TE offices, run by municipal employment areas since 2025): "
        "present in most municipalities (assumed).",
    ),
)
FI_AGENCY_ORDER = tuple(a.agency_id for a in FI_AGENCIES)

# Which agencies are at a municipal centre today (assumed, no list was available): each
# agency is in the N most populous municipalities (2024 population; ties by code), then
# `ensure_agency_reach` adds it to the centre nearest to any postcode area that would lack
# it within the agency's limit.  Deterministic: no randomness, so no seed.
FI_PRESENCE_RANK = {"KELA": 100, "VERO": 20, "POL": 70, "TE": 200}

# Budgets (EUR), tuned with the engine (see inputs/README.md).  Today's network costs
# 83.7 MEUR a year as the engine prices it; without budgets the cheapest plan costs 72.0
# MEUR a year and 9.1 MEUR once.  Both budgets cut into that plan, and the budgeted plan's
# proven bound lies above the unbudgeted optimum: the budgets change the plan.
FI_BUDGET_ANNUAL = 71_500_000.0
FI_BUDGET_ONE_OFF = 7_000_000.0
# HiGHS spends most of a solve on the root LP (about 160,000 assignment variables); it
# proves the 1 % gap at the root in one to two minutes on a 2-core machine.  The time
# limit leaves room for a slower machine.
FI_TIME_LIMIT_S = 300
FI_MIP_GAP = 0.01

# EUR.  Rents a year per m2 including service charge, cleaning and security; one-off costs
# and the travel cost are assumptions of the same kind as the Swedish ones (see README).
FINLAND = Country(
    currency="EUR",
    rent_metro_m2=330.0,
    rent_city_m2=230.0,
    rent_town_m2=170.0,
    metro_codes=frozenset({"091", "049", "092", "235"}),  # Helsinki, Espoo, Vantaa, Kauniainen
    metro_prefixes=(),
    close_cost_fixed=30_000.0,
    open_cost_fixed=75_000.0,
    open_cost_per_desk=3_000.0,
    money_step=1_000.0,
    # One site per municipality: Helsinki's single centre carries the whole city today.
    max_fitted=150,
    # EUR per visit and km of one-way distance: a return trip by car at 0.50 EUR/km (1.00)
    # plus the resident's time, 2 km at 60 km/h valued at 15 EUR/h (0.50).  It also sets
    # the solve time: at 1.0 the root LP takes about 160 s and 300 s leave a 1.04 % gap.
    travel_cost_per_km=1.5,
    time_limit_s=FI_TIME_LIMIT_S,
    circuity_note="Road km per straight-line km (assumed about 1.2 in Finland, as in Sweden).",
    staff_integer_note=(
        "false: staff are full-time equivalents per agency (at a joint service point an "
        "agency's share of the counter staff need not be whole)."
    ),
)
FI_CANDIDATE_BASIS = "candidate premises at the municipal centre"
FI_REMOTE_NOTE = (
    "no municipal centre within {limit:g} km: served by remote and mobile services, "
    "outside the office network (assumed)"
)


def read_fi_municipalities(data_dir: Path) -> pd.DataFrame:
    """The 308 municipalities with their centre as the site position, in code order."""
    path = data_dir / "fi_municipalities.csv"
    frame = pd.read_csv(path, dtype={"code": str, "region_code": str}, encoding="utf-8")
    if len(frame) != FI_MUNICIPALITIES:
        raise SystemExit(f"{path}: expected {FI_MUNICIPALITIES} municipalities, found {len(frame)}")
    frame["main_place"] = frame["name"]
    frame["main_place_lat"] = frame["centre_lat"]
    frame["main_place_lon"] = frame["centre_lon"]
    frame["main_place_source"] = np.where(
        frame["centre_source"] == "nls_mtk_municipal_centre", "NLS municipal centre", "GeoNames place"
    )
    frame["county"] = frame["region"]
    return frame.sort_values("code", kind="stable").reset_index(drop=True)


def read_fi_postcode_areas(data_dir: Path, municipalities: pd.DataFrame) -> pd.DataFrame:
    """The 3,024 postcode areas (Paavo 2022 population), with their municipality and region."""
    path = data_dir / "fi_postcode_areas.csv"
    frame = pd.read_csv(path, dtype={"postcode": str, "municipality_code": str}, encoding="utf-8")
    if len(frame) != FI_POSTCODE_AREAS:
        raise SystemExit(f"{path}: expected {FI_POSTCODE_AREAS} postcode areas, found {len(frame)}")
    by_code = municipalities.set_index("code")
    unknown = sorted(set(frame["municipality_code"]) - set(by_code.index))
    if unknown:
        raise SystemExit(f"{path}: municipality codes not in fi_municipalities.csv: {unknown}")
    frame = frame.rename(columns={"postcode": "code", "population_2022": "population"})
    frame["municipality"] = by_code.loc[frame["municipality_code"], "name"].to_numpy()
    frame["county"] = by_code.loc[frame["municipality_code"], "region"].to_numpy()
    return frame.sort_values("code", kind="stable").reset_index(drop=True)


def centres(municipalities: pd.DataFrame) -> pd.DataFrame:
    """The municipal centres' lat and lon."""
    return pd.DataFrame({"lat": municipalities["main_place_lat"], "lon": municipalities["main_place_lon"]})


def remote_pairs(areas: pd.DataFrame, sites: pd.DataFrame, agencies: Sequence[AgencySpec]) -> pd.DataFrame:
    """(area, agency) pairs with no site surely within the agency's limit (2 % margin)."""
    dist = distances_km(areas, sites)
    return pd.DataFrame(
        {a.agency_id: ~reachable(dist, agency_limit(a)).any(axis=1) for a in agencies}, index=areas["code"]
    )


def demand_sheet(remote: pd.DataFrame, areas: pd.DataFrame, agencies: Sequence[AgencySpec]) -> pd.DataFrame:
    """Zero visits for the remote pairs of areas with residents, agency by agency."""
    populated = areas["population"].to_numpy() > 0
    rows = [
        {"area_id": code, "agency_id": a.agency_id, "visits": 0, "note": FI_REMOTE_NOTE.format(limit=agency_limit(a))}
        for a in agencies
        for code in areas["code"][remote[a.agency_id].to_numpy() & populated]
    ]
    return pd.DataFrame(rows, columns=["area_id", "agency_id", "visits", "note"])


def fi_presence(
    municipalities: pd.DataFrame, areas: pd.DataFrame, visits: pd.DataFrame
) -> tuple[list[list[str]], list[str]]:
    """Today's agencies at each municipal centre, and why (the `basis` column)."""
    rank = municipalities["population"].rank(method="first", ascending=False).to_numpy()
    by_rank = [[a for a in FI_AGENCY_ORDER if r <= FI_PRESENCE_RANK[a]] for r in rank]
    hosts = ensure_agency_reach(by_rank, centres(municipalities), areas, visits, FI_AGENCIES, FI_AGENCY_ORDER)
    basis = []
    for ranked, now in zip(by_rank, hosts):
        added = [a for a in now if a not in ranked]
        parts = [f"{', '.join(ranked)} by population rank"] if ranked else []
        if added:
            parts.append(f"{', '.join(added)} added: no other site of the agency within its limit")
        basis.append("assumed joint service point: " + "; ".join(parts) if parts else "")
    return hosts, basis


def build_finland(
    municipalities: pd.DataFrame, areas: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """All sheets of finland.xlsx and the figures reported about it."""
    agencies = FI_AGENCIES
    remote = remote_pairs(areas, centres(municipalities), agencies)
    visits = visits_by_area(areas, agencies).mask(remote, 0.0)
    hosts, basis = fi_presence(municipalities, areas, visits)
    existing = np.array([bool(ids) for ids in hosts])
    present = municipalities[existing]
    offices = pd.DataFrame(
        {
            "site_id": "S" + present["code"],
            "name": present["main_place"],
            "municipality_code": present["code"],
            "municipality": present["name"],
            "population": present["population"],
            "lat": present["main_place_lat"],
            "lon": present["main_place_lon"],
            "coordinates": present["main_place_source"],
            "basis": [b for b, e in zip(basis, existing) if e],
            "agencies_now": [ids for ids, e in zip(hosts, existing) if e],
        }
    ).reset_index(drop=True)
    offices = size_offices(offices, areas, visits, agencies, FINLAND)
    candidates = candidate_rows(municipalities, set(offices["municipality_code"]), FINLAND, FI_CANDIDATE_BASIS)
    today = todays_network(offices, areas, visits, agencies)
    sheets = {
        "settings": settings_sheet(common_settings(FINLAND, FI_BUDGET_ANNUAL, FI_BUDGET_ONE_OFF, mip_gap=FI_MIP_GAP)),
        "agencies": agencies_sheet(agencies),
        "areas": areas_sheet(areas, extra=("municipality_code", "municipality")),
        "sites": sites_sheet(offices, candidates),
        "demand": demand_sheet(remote, areas, agencies),
    }
    populated = areas["population"].to_numpy() > 0
    population = areas["population"].to_numpy()
    hosting = {a: float(sum(a in ids for ids in hosts)) for a in FI_AGENCY_ORDER}
    report = {
        **today,
        "areas": float(len(areas)),
        "areas_without_residents": float((~populated).sum()),
        "population": float(areas["population"].sum()),
        "sites": float(len(sheets["sites"])),
        "existing": float(len(offices)),
        "candidates": float(len(candidates)),
        **{f"sites_with_{a}_today": n for a, n in hosting.items()},
        **{f"sites_with_{a}_by_reach": n - FI_PRESENCE_RANK[a] for a, n in hosting.items()},
        **{f"remote_areas_{a}": float((remote[a].to_numpy() & populated).sum()) for a in FI_AGENCY_ORDER},
        **{f"remote_residents_{a}": float(population[remote[a].to_numpy()].sum()) for a in FI_AGENCY_ORDER},
        "budget_annual": FI_BUDGET_ANNUAL,
        "budget_one_off": FI_BUDGET_ONE_OFF,
        "desks_existing": float(offices["desks"].sum()),
    }
    return sheets, report


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------

TEXT_COLUMNS = {"key", "area_id", "site_id", "agency_id", "municipality_code", "agencies_now", "status", "force"}


def cell_value(value: object) -> object:
    """Plain Python values for openpyxl: NaN and None become blank cells."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)) and math.isnan(float(value)):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def write_workbook(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """Write the sheets with openpyxl, ids as text, then pin the timestamps."""
    wb = Workbook()
    wb.remove(wb.active)
    for title, frame in sheets.items():
        ws = wb.create_sheet(title)
        ws.append(list(frame.columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for record in frame.itertuples(index=False):
            ws.append([cell_value(v) for v in record])
        for idx, column in enumerate(frame.columns, start=1):
            letter = get_column_letter(idx)
            if column in TEXT_COLUMNS:
                for (cell,) in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
                    if cell.value is not None:
                        cell.value = str(cell.value)
                        cell.number_format = "@"
            width = max([len(str(column))] + [len(str(v)) for v in frame[column].head(200) if v is not None])
            ws.column_dimensions[letter].width = min(max(10, width + 2), 60)
        ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    wb.save(buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(pin_timestamps(buffer.getvalue()))
    tmp.replace(path)


def pin_timestamps(xlsx: bytes) -> bytes:
    """Rewrite the xlsx zip with fixed entry times and fixed document dates."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    lambda m: m.group(1) + FIXED_ISO_TIME + m.group(3),
                    text,
                )
                data = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, data)
    return out.getvalue()


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def print_report(title: str, report: dict[str, float]) -> None:
    print(f"{title}:")
    for key, value in report.items():
        print(f"  {key:28s} {'(blank)' if value is None else format(value, ',.1f'):>16s}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA_DIR,
        help="folder with se_municipalities.csv, fi_municipalities.csv and fi_postcode_areas.csv",
    )
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "inputs", help="where to write the workbooks")
    args = parser.parse_args(argv)
    municipalities = read_municipalities(args.data)
    sweden, sweden_report = build_sweden(municipalities)
    demo, demo_report = build_demo(municipalities)
    write_workbook(sweden, args.out_dir / "sweden.xlsx")
    write_workbook(demo, args.out_dir / "demo.xlsx")
    fi_municipalities = read_fi_municipalities(args.data)
    finland, finland_report = build_finland(fi_municipalities, read_fi_postcode_areas(args.data, fi_municipalities))
    write_workbook(finland, args.out_dir / "finland.xlsx")
    print_report(f"wrote {args.out_dir / 'sweden.xlsx'}", sweden_report)
    print_report(f"wrote {args.out_dir / 'demo.xlsx'}", demo_report)
    print_report(f"wrote {args.out_dir / 'finland.xlsx'}", finland_report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
