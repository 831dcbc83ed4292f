"""Time `pairs_within` at national scale: 20,000 areas x 2,000 candidate sites in Sweden.

Run from anywhere:  python benchmarks/bench_distances.py

Points are scattered around the GeoNames localities in benchmarks/data/se_localities.csv
(so they cluster like the population does, which gives more pairs per cutoff than a uniform
spread), or uniformly over Sweden's bounding box when that file is not there.  The seed is
fixed so that runs on different machines see the same pairs.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from geopy.distance import geodesic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.distances import geodesic_km, pairs_within  # noqa: E402

LOCALITIES = Path(__file__).resolve().parent / "data" / "se_localities.csv"
N_AREAS = 20_000
N_SITES = 2_000
JITTER_DEG = 0.15  # about 17 km north-south: spreads areas around each locality
CUTOFFS_KM: list[float | None] = [25.0, 50.0, 100.0, None]
SAMPLE_PAIRS = 1_000
SEED = 20240601


def swedish_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n (lat, lon) points placed like Sweden's settlements, or uniform over its box."""
    if LOCALITIES.exists():
        import pandas as pd

        places = pd.read_csv(LOCALITIES, usecols=["lat", "lon"]).dropna().to_numpy()
        centre = places[rng.integers(len(places), size=n)]
        lat = np.clip(centre[:, 0] + rng.normal(0, JITTER_DEG, n), 55.3, 69.0)
        lon = centre[:, 1] + rng.normal(0, 2 * JITTER_DEG, n)  # a degree of lon is ~half as long
        return lat, lon
    return rng.uniform(55.3, 68.0, n), rng.uniform(11.0, 24.0, n)


def timed(cutoff: float | None, areas, sites) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds and the pair count of one call, without tracing overhead.

    The work is single-threaded, so on an idle machine both times agree; CPU time is the
    figure to trust when other jobs share the machine.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    area_index, _, _ = pairs_within(*areas, *sites, cutoff)
    return time.perf_counter() - wall, time.process_time() - cpu, area_index.size


def peak_mb(cutoff: float | None, areas, sites) -> float:
    """Peak of memory numpy allocated during a call, result included (a separate run).

    This counts the output buffers at their full upper bound, part of which is never
    written and so never resident: an overestimate of real memory with a cutoff.
    """
    tracemalloc.start()
    pairs_within(*areas, *sites, cutoff)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def max_error_m(rng: np.random.Generator, areas, sites) -> float:
    """Largest disagreement with geopy (Karney) over random area-site pairs, in metres."""
    i = rng.integers(areas[0].size, size=SAMPLE_PAIRS)
    j = rng.integers(sites[0].size, size=SAMPLE_PAIRS)
    ours = geodesic_km(areas[0][i], areas[1][i], sites[0][j], sites[1][j])
    karney = [geodesic((areas[0][a], areas[1][a]), (sites[0][s], sites[1][s])).km for a, s in zip(i, j)]
    return float(np.max(np.abs(ours - karney))) * 1000


def main() -> None:
    rng = np.random.default_rng(SEED)
    areas = swedish_points(rng, N_AREAS)
    sites = swedish_points(rng, N_SITES)
    source = LOCALITIES.name if LOCALITIES.exists() else "uniform box"
    print(f"{N_AREAS:,} areas x {N_SITES:,} sites around {source}, seed {SEED}")
    print(f"{'cutoff km':>10} {'wall s':>7} {'cpu s':>7} {'pairs':>12} {'peak MB':>8}")
    for cutoff in CUTOFFS_KM:
        wall, cpu, pairs = timed(cutoff, areas, sites)
        label = "none" if cutoff is None else f"{cutoff:g}"
        print(f"{label:>10} {wall:7.2f} {cpu:7.2f} {pairs:12,} {peak_mb(cutoff, areas, sites):8.0f}")
    print(f"max |error| vs geopy over {SAMPLE_PAIRS:,} pairs: {max_error_m(rng, areas, sites):.2e} m")


if __name__ == "__main__":
    main()
