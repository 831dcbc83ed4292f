"""The plan on a map: which offices are drawn, in which colour and size, and how far people travel.

One network, solved for real, shows every action.  FK is the only agency (1,000 visits per
staff at 100 a year; one visit per person); the limit is 50 km and the merge radius 10 km.

    s1  existing (60.00, 15.0)  500/yr     5.56 km from s2, which hosts FK -> merged into s2
    s2  existing (60.05, 15.0)  300/yr     the cheapest office in the south -> kept, 7 staff
    s5  existing (60.00, 15.3)  400/yr     17.6 km from s2, beyond the merge radius -> closed
    s6  existing (no position)  50/yr      serves nobody -> closed, not on the map
    s7  existing (61.00, 15.0)  5,000/yr   c3 next door hosts FK -> merged into c3
    c3  candidate (61.00, 15.0) 100/yr     named '<script>&"x"' -> opened, 2 staff
    c4  candidate (60.50, 16.0) 10,000/yr  -> unused, not on the map

Areas a1..a6 live at those positions (a1 at s1, a2 at s2, a3 at c3, a5 at s5, a6 at 60.45 N);
a7 has no position and a listed 12 km to s2.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from functools import lru_cache

import pytest
from geopy.distance import geodesic

from optimizer import maps
from optimizer.maps import ACTION_COLOURS, area_points, legend, plan_deck, site_points, svg_map
from tiny import agency, area, problem, site, solved

SVG = "{http://www.w3.org/2000/svg}"
S1, S2, S5, FAR, A6 = (60.0, 15.0), (60.05, 15.0), (60.0, 15.3), (61.0, 15.0), (60.45, 15.0)
EVIL = '<script>&"x"'


def network(**settings):
    areas = [
        area("a1", 1000, *S1),
        area("a2", 3000, *S2),
        area("a3", 2000, *FAR),
        area("a5", 500, *S5),
        area("a6", 1500, *A6),
        area("a7", 1000),
    ]
    sites = [
        site("s1", "existing", *S1, annual_cost=500.0, close_cost=40.0, agencies_now=("FK",)),
        site("s2", "existing", *S2, annual_cost=300.0, agencies_now=("FK",)),
        replace(site("c3", "candidate", *FAR, annual_cost=100.0), name=EVIL),
        site("c4", "candidate", 60.5, 16.0, annual_cost=10_000.0),
        site("s5", "existing", *S5, annual_cost=400.0, agencies_now=("FK",)),
        site("s6", "existing", annual_cost=50.0, agencies_now=("FK",)),
        site("s7", "existing", *FAR, annual_cost=5000.0, agencies_now=("FK",)),
    ]
    settings = {"max_distance_km": 50.0, **settings}
    return problem([agency("FK")], areas, sites, distances={("a7", "s2"): 12.0}, **settings)


@lru_cache(maxsize=None)
def solved_network(**settings):
    p = network(**settings)
    return p, solved(p)


def rgba(hex_colour, alpha):
    return [int(hex_colour[k : k + 2], 16) for k in (1, 3, 5)] + [alpha]


def test_every_mapped_office_has_its_action_colour_and_unused_or_unplaced_ones_are_left_out():
    p, plan = solved_network()
    points = site_points(p, plan).set_index("site_id")
    assert points.action.to_dict() == {"s1": "merge", "s2": "keep", "c3": "open", "s5": "close", "s7": "merge"}
    for site_id, row in points.iterrows():
        assert row.colour == rgba(ACTION_COLOURS[row.action], 230)
    assert points.loc["s1", "merged_into"] == "s2" and points.loc["s7", "merged_into"] == "c3"
    assert points.loc["s2", "staff"] == pytest.approx(7.0) and points.loc["c3", "staff"] == pytest.approx(2.0)
    assert points.loc["s2", "annual_cost"] == pytest.approx(300 + 7 * 100)
    assert (points.loc["c3", "lat"], points.loc["c3", "lon"]) == FAR
    assert points.loc["s2", "agencies_now"] == "FK" and points.loc["c3", "agencies_after"] == "FK"


def test_circle_area_grows_with_staff_and_closed_offices_are_small_and_all_alike():
    p, plan = solved_network()
    radius = site_points(p, plan).set_index("site_id").radius_m
    assert radius["c3"] / radius["s2"] == pytest.approx(math.sqrt(2 / 7))
    assert radius["s1"] == radius["s5"] == radius["s7"] < radius["c3"]
    # The largest office is 1/50 of the map's extent: 1 degree of latitude.
    assert radius["s2"] == pytest.approx(111_195 / 50)


def test_tooltips_read_like_sentences_with_thousands_separators():
    p, plan = solved_network()
    tip = site_points(p, plan).set_index("site_id").tooltip
    assert tip["s2"].split("\n") == ["s2", "kept", "staff: 7", "agencies: FK \u2192 FK", "annual cost: 1,000 kr/year"]
    assert tip["c3"].split("\n")[:2] == [f"{EVIL} (c3)", "opened"]
    assert "agencies: none \u2192 FK" in tip["c3"]
    assert tip["s7"].endswith(f"merged into {EVIL} (c3)")
    assert tip["s5"].split("\n")[1] == "closed"


def test_area_distances_are_the_plans_and_shaded_by_bin():
    p, plan = solved_network()
    points = area_points(p, plan).set_index("area_id")
    assert "a7" not in points.index  # no position
    worst = plan.areas.groupby("area_id").distance_km.max()
    for area_id, km in points.distance_km.items():
        assert km == pytest.approx(worst[area_id])
    assert points.distance_km["a1"] == pytest.approx(geodesic(S1, S2).km, rel=1e-6)
    assert points.distance_km["a6"] == pytest.approx(geodesic(A6, S2).km, rel=1e-6)
    bins = legend()["distance"]
    assert points.colour["a1"] == rgba(bins["\u2264 10 km"], 200)
    assert points.colour["a5"] == rgba(bins["\u2264 25 km"], 200)  # 17.6 km to s2
    assert points.colour["a6"] == rgba(bins["\u2264 50 km"], 200)  # 44.6 km to s2
    assert points.tooltip["a6"].split("\n") == ["a6", "population: 1,500", "distance to office: 44.6 km"]


def test_an_area_nobody_serves_is_grey_and_a_far_one_is_in_the_last_bin():
    # Coverage mode, 80 km limit: b2 is 66.7 km from the only office, b3 beyond every limit.
    areas = [area("b1", 100, *S1), area("b2", 100, 60.6, 15.0), area("b3", 100, 65.0, 20.0)]
    sites = [site("s1", "existing", *S1, annual_cost=10.0, agencies_now=("FK",))]
    p = problem([agency("FK")], areas, sites, max_distance_km=80.0, objective="coverage")
    points = area_points(p, solved(p)).set_index("area_id")
    assert math.isnan(points.distance_km["b3"]) and not points.covered["b3"]
    assert points.colour["b3"] == rgba(maps.NOT_SERVED[1], 200)
    assert points.tooltip["b3"].endswith("not served")
    assert points.distance_km["b2"] == pytest.approx(geodesic((60.6, 15.0), S1).km, rel=1e-6)
    assert points.colour["b2"] == rgba(legend()["distance"]["> 50 km"], 200)


def test_legend_gives_every_action_and_distance_bin_as_hex():
    colours = legend()
    assert {k: colours["actions"][k] for k in ("keep", "open", "merge", "close")} == {
        "keep": "#0072B2", "open": "#009E73", "merge": "#E69F00", "close": "#D55E00",
    }  # fmt: skip
    assert list(colours["distance"]) == ["\u2264 10 km", "\u2264 25 km", "\u2264 50 km", "> 50 km", "not served"]
    assert all(re.fullmatch(r"#[0-9a-fA-F]{6}", c) for group in colours.values() for c in group.values())


# --- the SVG ------------------------------------------------------------------------------


def site_circles(root):
    group = root.find(f"{SVG}g[@class='sites']")
    return group.findall(f"{SVG}circle")


def test_svg_draws_one_circle_per_mapped_office_in_its_action_colour_closed_ones_last():
    p, plan = solved_network()
    root = ET.fromstring(svg_map(p, plan))
    circles = site_circles(root)
    fills = {c.get("data-site"): c.get("fill") for c in circles}
    assert fills == {
        "s2": ACTION_COLOURS["keep"], "c3": ACTION_COLOURS["open"], "s1": ACTION_COLOURS["merge"],
        "s7": ACTION_COLOURS["merge"], "s5": ACTION_COLOURS["close"],
    }  # fmt: skip
    order = [c.get("data-site") for c in circles]
    assert set(order[-3:]) == {"s1", "s5", "s7"}  # drawn over the offices that replace them
    assert all(c.find(f"{SVG}title").text for c in circles)
    assert len(root.find(f"{SVG}g[@class='areas']").findall(f"{SVG}circle")) == 5


def test_svg_projection_scales_longitude_by_the_cosine_of_the_mid_latitude():
    p, plan = solved_network()
    root = ET.fromstring(svg_map(p, plan))
    at = {
        c.find(f"{SVG}title").text.split("\n")[0]: (float(c.get("cx")), float(c.get("cy")))
        for c in root.find(f"{SVG}g[@class='areas']").findall(f"{SVG}circle")
    }
    east = at["a5"][0] - at["a1"][0]  # 0.3 degrees of longitude at 60 N
    north = at["a1"][1] - at["a6"][1]  # 0.45 degrees of latitude
    assert east / north == pytest.approx(0.3 * math.cos(math.radians(60.5)) / 0.45, rel=0.02)


def test_svg_escapes_names_and_refers_to_nothing_outside():
    p, plan = solved_network()
    text = svg_map(p, plan)
    assert "<script" not in text and "&lt;script&gt;&amp;&quot;x&quot;" in text
    root = ET.fromstring(text)
    titles = [c.find(f"{SVG}title").text for c in site_circles(root)]
    assert any(t.startswith(f"{EVIL} (c3)") for t in titles)
    assert re.findall(r"https?://[^\s\"'<>]*", text) == ["http://www.w3.org/2000/svg"]
    assert "href" not in text


def test_svg_has_a_legend_and_a_scale_bar():
    p, plan = solved_network()
    root = ET.fromstring(svg_map(p, plan))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for label in ("kept", "opened", "merged", "closed", "\u2264 10 km", "> 50 km", "not served"):
        assert label in texts
    assert any(re.fullmatch(r"\d+(\.\d+)? km", t or "") for t in texts)


@pytest.mark.parametrize("size", [(420, 560), (220, 470), (700, 300)])
def test_svg_fits_any_box(size):
    p, plan = solved_network()
    width, height = size
    root = ET.fromstring(svg_map(p, plan, width=width, height=height))
    assert (root.get("width"), root.get("height")) == (str(width), str(height))
    for c in root.iter(f"{SVG}circle"):
        assert 0 <= float(c.get("cx")) <= width and 0 <= float(c.get("cy")) <= height


def test_without_a_plan_the_svg_shows_todays_offices():
    p, _ = solved_network()
    p = p.with_settings(budget_annual=10.0)
    plan = solved(p)
    assert plan.status == "infeasible" and plan.sites.empty and plan.areas.empty
    points = site_points(p, plan)
    assert set(points.site_id) == {"s1", "s2", "s5", "s7"} and set(points.action) == {"today"}
    root = ET.fromstring(svg_map(p, plan))
    assert {c.get("fill") for c in site_circles(root)} == {ACTION_COLOURS["today"]}
    assert len(site_circles(root)) == 4


# --- the pydeck map -----------------------------------------------------------------------


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_deck_has_an_areas_and_a_sites_layer_with_every_point_and_no_base_map():
    p, plan = solved_network()
    spec = strict_json(plan_deck(p, plan).to_json())  # NaN would break the browser's JSON.parse
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert list(layers) == ["areas", "sites"]
    assert {row["site_id"] for row in layers["sites"]["data"]} == {"s1", "s2", "c3", "s5", "s7"}
    assert len(layers["areas"]["data"]) == 5
    for layer in layers.values():
        assert layer["@@type"] == "ScatterplotLayer" and layer["pickable"] is True
        assert layer["getFillColor"] == "@@=colour"
    # Literal units, not expressions pydeck would make of a bare string.
    assert layers["sites"]["radiusUnits"] == "meters" and layers["areas"]["radiusUnits"] == "pixels"
    assert layers["sites"]["getRadius"] == "@@=radius_m"
    assert "mapStyle" not in spec and "mapProvider" not in spec
    assert "https://" not in json.dumps(spec)
    view = spec["initialViewState"]
    assert 60.0 <= view["latitude"] <= 61.0 and 15.0 <= view["longitude"] <= 16.0 and 5 <= view["zoom"] <= 12


def test_deck_tooltip_and_selection_rows_carry_the_site():
    p, plan = solved_network()
    deck = plan_deck(p, plan)
    assert deck._tooltip == {"text": "{tooltip}"}
    sites = next(layer for layer in strict_json(deck.to_json())["layers"] if layer["id"] == "sites")
    row = next(r for r in sites["data"] if r["site_id"] == "s1")
    assert row["action"] == "merge" and row["merged_into"] == "s2" and row["staff"] == 0
    assert row["tooltip"].startswith("s1\nmerged")


def test_deck_base_map_only_on_request():
    p, plan = solved_network()
    spec = strict_json(plan_deck(p, plan, basemap=True).to_json())
    assert spec["mapProvider"] == "carto" and "cartocdn" in spec["mapStyle"]


def test_deck_without_a_plan_shows_todays_offices():
    p, _ = solved_network()
    p = p.with_settings(budget_annual=10.0)
    spec = strict_json(plan_deck(p, solved(p)).to_json())
    sites = next(layer for layer in spec["layers"] if layer["id"] == "sites")
    assert {r["site_id"] for r in sites["data"]} == {"s1", "s2", "s5", "s7"}
    assert all(r["staff"] is None for r in sites["data"])


def test_a_problem_without_positions_draws_an_empty_map():
    # OR-Library style: every distance listed, no coordinates.
    p = problem(
        [agency("FK")],
        [area("a1", 1000)],
        [site("s1", "existing", annual_cost=10.0, agencies_now=("FK",))],
        distances={("a1", "s1"): 3.0},
    )
    plan = solved(p)
    assert site_points(p, plan).empty and area_points(p, plan).empty
    root = ET.fromstring(svg_map(p, plan))
    assert root.find(f"{SVG}g[@class='sites']") is None
    assert "No positions to draw" in [t.text for t in root.iter(f"{SVG}text")]
    spec = strict_json(plan_deck(p, plan).to_json())
    assert [len(layer["data"]) for layer in spec["layers"]] == [0, 0]
