"""What `optimizer.distances` promises.

geodesic_km: WGS-84 distances that agree with geopy's geodesic (Karney) to under a metre
everywhere, including the awkward places: poles, the equator, the antimeridian, the same
point twice, and points nearly opposite each other on the globe.

pairs_within: exactly the pairs a brute-force check of every pair against the cutoff would
keep, no more and no fewer, ordered by area then site, and none for a missing location.
"""

from __future__ import annotations

import numpy as np
import pytest
from geopy.distance import geodesic

from optimizer import distances
from optimizer.distances import geodesic_km, pairs_within

AGREEMENT_KM = 0.001  # one metre


def karney_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    return np.array([geodesic((a, b), (c, d)).km for a, b, c, d in zip(lat1, lon1, lat2, lon2)])


def nordic_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points over Sweden and Finland."""
    return rng.uniform(55, 70, n), rng.uniform(10, 32, n)


def assert_agrees_with_karney(lat1, lon1, lat2, lon2) -> None:
    ours = geodesic_km(lat1, lon1, lat2, lon2)
    error = np.abs(ours - karney_km(lat1, lon1, lat2, lon2))
    assert error.max() < AGREEMENT_KM, f"worst pair is {error.max() * 1000:.3f} m off"


# --- geodesic_km -------------------------------------------------------------------------


def test_agrees_with_karney_across_sweden_and_finland():
    rng = np.random.default_rng(1)
    assert_agrees_with_karney(*nordic_points(rng, 2000), *nordic_points(rng, 2000))


def test_agrees_with_karney_between_random_points_anywhere():
    rng = np.random.default_rng(2)
    lat1, lat2 = rng.uniform(-90, 90, (2, 1000))
    lon1, lon2 = rng.uniform(-180, 180, (2, 1000))
    assert_agrees_with_karney(lat1, lon1, lat2, lon2)


@pytest.mark.parametrize("spread_deg", [2.0, 0.1, 0.001])
def test_agrees_with_karney_for_nearly_antipodal_points(spread_deg):
    """Where Vincenty's iteration fails to converge, the answer still has to be right."""
    rng = np.random.default_rng(3)
    lat1, lon1 = rng.uniform(-90, 90, 300), rng.uniform(-180, 180, 300)
    lat2 = np.clip(-lat1 + rng.normal(0, spread_deg, 300), -90, 90)
    lon2 = lon1 + 180 + rng.normal(0, spread_deg, 300)
    assert_agrees_with_karney(lat1, lon1, lat2, lon2)


@pytest.mark.parametrize(
    "lat1, lon1, lat2, lon2",
    [
        pytest.param(55.6, 13.0, 69.1, 27.0, id="Malmo to Utsjoki"),
        pytest.param(59.33, 18.07, -33.87, 151.21, id="Stockholm to Sydney"),
        pytest.param(0, 0, 0, 90, id="along the equator"),
        pytest.param(0, -10, 0, 170, id="equator, exactly antipodal"),
        pytest.param(0, 0, 0.5, 179.7, id="equator, nearly antipodal"),
        pytest.param(-30, 0, 30, 179.9, id="nearly antipodal, off the equator"),
        pytest.param(90, 0, -90, 0, id="pole to pole"),
        pytest.param(90, 0, 89.9, 123, id="next to the north pole"),
        pytest.param(-89.99, 10, -89.99, -170, id="across the south pole"),
        pytest.param(65, 179.9, 65.1, -179.9, id="across the antimeridian"),
        pytest.param(10, -180, 10, 180, id="the same meridian written twice"),
        pytest.param(59.3, 18.1, 59.3, 18.1000001, id="a centimetre apart"),
        pytest.param(0, 0, 1e-7, 0, id="a centimetre north of the equator"),
    ],
)
def test_agrees_with_karney_in_awkward_places(lat1, lon1, lat2, lon2):
    assert_agrees_with_karney([lat1], [lon1], [lat2], [lon2])


def test_the_same_point_twice_is_exactly_zero():
    lat = np.array([0.0, 59.3293, -90.0, 90.0, 45.0])
    lon = np.array([0.0, 18.0686, 0.0, 0.0, 180.0])
    assert np.array_equal(geodesic_km(lat, lon, lat, lon), np.zeros(5))


def test_inputs_broadcast_like_numpy():
    rng = np.random.default_rng(4)
    lat1, lon1 = nordic_points(rng, 5)
    lat2, lon2 = nordic_points(rng, 3)
    table = geodesic_km(lat1[:, None], lon1[:, None], lat2, lon2)
    assert table.shape == (5, 3)
    assert table[4, 2] == geodesic_km(lat1[4], lon1[4], lat2[2], lon2[2])


def test_a_missing_coordinate_gives_nan_not_a_distance():
    assert np.isnan(geodesic_km([np.nan, 60.0], [15.0, np.nan], [60.0, 60.0], [15.0, 15.0])).all()


# --- pairs_within ------------------------------------------------------------------------


def brute_force(area_lat, area_lon, site_lat, site_lon, cutoff_km):
    """Every pair measured, then filtered: the reference pairs_within must reproduce."""
    table = geodesic_km(area_lat[:, None], area_lon[:, None], site_lat, site_lon)
    a, s = np.nonzero(table <= (np.inf if cutoff_km is None else cutoff_km))
    return a, s, table[a, s]


def assert_same_pairs(found, expected):
    area_index, site_index, km = found
    assert area_index.size == site_index.size == km.size
    assert set(zip(area_index.tolist(), site_index.tolist())) == set(
        zip(expected[0].tolist(), expected[1].tolist())
    )
    order = np.lexsort((expected[1], expected[0]))
    np.testing.assert_array_equal(area_index, expected[0][order])  # by area, then site
    np.testing.assert_array_equal(site_index, expected[1][order])
    np.testing.assert_allclose(km, expected[2][order], rtol=0, atol=1e-9)


@pytest.fixture
def nordic():
    """Areas and sites over Sweden and Finland, with some sites exactly on an area."""
    rng = np.random.default_rng(5)
    area_lat, area_lon = nordic_points(rng, 400)
    site_lat, site_lon = nordic_points(rng, 150)
    site_lat[:10], site_lon[:10] = area_lat[:10], area_lon[:10]
    return area_lat, area_lon, site_lat, site_lon


@pytest.mark.parametrize("cutoff_km", [0.0, 5.0, 50.0, 100.0, 400.0, 5000.0, None])
def test_finds_exactly_the_pairs_brute_force_finds(nordic, cutoff_km):
    assert_same_pairs(pairs_within(*nordic, cutoff_km), brute_force(*nordic, cutoff_km))


@pytest.mark.parametrize("cutoff_km", [50.0, None])
def test_splitting_the_work_into_chunks_changes_nothing(nordic, cutoff_km, monkeypatch):
    monkeypatch.setattr(distances, "PAIR_CHUNK", 500)
    assert_same_pairs(pairs_within(*nordic, cutoff_km), brute_force(*nordic, cutoff_km))


def test_a_cutoff_equal_to_a_distance_keeps_that_pair(nordic):
    _, _, km = brute_force(*nordic, None)
    for cutoff_km in np.quantile(km, [0.001, 0.01, 0.1], method="nearest"):
        found = pairs_within(*nordic, float(cutoff_km))
        assert cutoff_km in found[2]
        assert_same_pairs(found, brute_force(*nordic, float(cutoff_km)))


@pytest.mark.parametrize(
    "lat, lon, bearing",
    [
        pytest.param(0.0, 0.0, 0.0, id="north from the equator, where the ellipsoid is flattest"),
        pytest.param(0.0, 0.0, 90.0, id="east along the equator"),
        pytest.param(89.5, 0.0, 90.0, id="east next to the pole"),
        pytest.param(62.0, 16.0, 45.0, id="north-east in Sweden"),
        pytest.param(64.0, 179.8, 90.0, id="east across the antimeridian"),
    ],
)
@pytest.mark.parametrize("cutoff_km", [1.0, 50.0, 300.0])
def test_a_site_a_millimetre_inside_the_cutoff_is_kept_and_outside_is_not(lat, lon, bearing, cutoff_km):
    """The cheap prefilters must never drop a pair the exact distance would keep."""
    inside = geodesic(kilometers=cutoff_km - 1e-6).destination((lat, lon), bearing)
    outside = geodesic(kilometers=cutoff_km + 1e-6).destination((lat, lon), bearing)
    site_lat = np.array([inside.latitude, outside.latitude])
    site_lon = np.array([inside.longitude, outside.longitude])
    area_index, site_index, _ = pairs_within([lat], [lon], site_lat, site_lon, cutoff_km)
    assert area_index.tolist() == [0]
    assert site_index.tolist() == [0]


@pytest.mark.parametrize("cutoff_km", [1000.0, 12000.0, None])
def test_finds_the_brute_force_pairs_anywhere_on_earth(cutoff_km):
    rng = np.random.default_rng(6)
    area_lat, site_lat = rng.uniform(-90, 90, 120), rng.uniform(-90, 90, 80)
    area_lon, site_lon = rng.uniform(-180, 180, 120), rng.uniform(-180, 180, 80)
    site_lat[:5], site_lon[:5] = -area_lat[:5], area_lon[:5] + 179.99  # nearly antipodal
    points = area_lat, area_lon, site_lat, site_lon
    assert_same_pairs(pairs_within(*points, cutoff_km), brute_force(*points, cutoff_km))


@pytest.mark.parametrize("cutoff_km", [50.0, None])
def test_rows_without_coordinates_get_no_pairs(nordic, cutoff_km):
    area_lat, area_lon, site_lat, site_lon = (x.copy() for x in nordic)
    area_lat[3], area_lon[7], site_lat[2], site_lon[11] = np.nan, np.nan, np.nan, np.nan
    found = pairs_within(area_lat, area_lon, site_lat, site_lon, cutoff_km)
    assert not {3, 7} & set(found[0].tolist())
    assert not {2, 11} & set(found[1].tolist())
    # Every other row keeps exactly the pairs it had, under its own row number.
    area_located = np.isfinite(area_lat) & np.isfinite(area_lon)
    site_located = np.isfinite(site_lat) & np.isfinite(site_lon)
    a, s, km = brute_force(*nordic, cutoff_km)
    keep = area_located[a] & site_located[s]
    assert_same_pairs(found, (a[keep], s[keep], km[keep]))


@pytest.mark.parametrize(
    "area_lat, site_lat",
    [
        pytest.param([], [60.0], id="no areas"),
        pytest.param([60.0], [], id="no sites"),
        pytest.param([], [], id="nothing"),
        pytest.param([np.nan], [60.0], id="no located areas"),
    ],
)
@pytest.mark.parametrize("cutoff_km", [50.0, None])
def test_nothing_to_pair_gives_empty_typed_arrays(area_lat, site_lat, cutoff_km):
    area_lon, site_lon = [15.0] * len(area_lat), [15.0] * len(site_lat)
    area_index, site_index, km = pairs_within(area_lat, area_lon, site_lat, site_lon, cutoff_km)
    assert area_index.size == site_index.size == km.size == 0
    assert (area_index.dtype, site_index.dtype, km.dtype) == (np.int32, np.int32, np.float64)


def test_indices_are_int32_and_distances_float64(nordic):
    area_index, site_index, km = pairs_within(*nordic, 100.0)
    assert (area_index.dtype, site_index.dtype, km.dtype) == (np.int32, np.int32, np.float64)


@pytest.mark.parametrize("cutoff_km", [-1.0, float("nan")])
def test_a_negative_or_nan_cutoff_is_refused(nordic, cutoff_km):
    with pytest.raises(ValueError, match="cutoff_km"):
        pairs_within(*nordic, cutoff_km)
