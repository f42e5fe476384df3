"""Distributions: MLE and shrinkage fits, exact sampling, and the simulator's quantile tables."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest

from agentjit.cost.distributions import (
    Distribution,
    constant,
    empirical,
    fit,
    lognormal,
)


def _lognormal_cdf(d: Distribution, x: np.ndarray) -> np.ndarray:
    z = [(math.log(v) - d.mu) / d.sigma for v in x]
    return np.array([0.5 * math.erfc(-t / math.sqrt(2)) for t in z])


def _ks_continuous(d: Distribution, atoms: np.ndarray) -> float:
    """sup |F - G| for a continuous F and G uniform over `atoms`: attained at an atom, against
    G's value there or its left limit."""
    cdf = _lognormal_cdf(d, atoms)
    g_right = np.searchsorted(atoms, atoms, side="right") / atoms.size
    g_left = np.searchsorted(atoms, atoms, side="left") / atoms.size
    return float(max(np.max(np.abs(cdf - g_right)), np.max(np.abs(cdf - g_left))))


# ---- fitting ----


def test_mle_recovers_mu_and_sigma() -> None:
    rng = np.random.default_rng(1)
    data = rng.lognormal(-1.2, 0.7, 20_000)
    d = fit(data, empirical_min=10**9)
    assert d.kind == "lognormal" and d.source == "fitted" and d.n == 20_000
    assert d.mu == pytest.approx(-1.2, abs=0.02)
    assert d.sigma == pytest.approx(0.7, rel=0.02)


def test_shrinkage_moves_monotonically_from_prior_to_data() -> None:
    prior = lognormal(0.25, 0.5)
    target = math.log(0.05)
    distances = [abs(fit([0.05] * n, prior).mu - target) for n in range(1, 40)]
    assert distances[0] < abs(prior.mu - target)
    assert all(b < a for a, b in itertools.pairwise(distances))
    assert distances[-1] < 0.1 * abs(prior.mu - target)


def test_shrinkage_formula() -> None:
    prior = lognormal(1.0, 0.5)
    d = fit([math.e, math.e], prior, prior_weight=2.0)
    assert d.mu == pytest.approx(0.5)
    assert d.sigma**2 == pytest.approx((2 * 0.25 + 2 * 0.0) / 4)


def test_a_far_prior_does_not_widen_a_few_tight_samples() -> None:
    """Warm-pool tab.open: 5 us samples against a 50 ms prior. The fit's mean moves toward the
    samples; the gap between the two must not turn into seconds of spread."""
    prior = lognormal(0.050, 0.5)
    d = fit([5e-6, 6e-6, 5e-6, 7e-6], prior, prior_weight=3.0)
    assert d.sigma < 0.5
    assert d.mean() < prior.mean()


def test_empirical_kicks_in_at_empirical_min() -> None:
    prior = lognormal(0.25, 0.5)
    values = list(np.linspace(0.1, 0.2, 50))
    assert fit(values[:49], prior).kind == "lognormal"
    d = fit(values, prior)
    assert d.kind == "empirical" and d.source == "empirical" and d.n == 50
    assert d.mean() == pytest.approx(np.mean(values))


def test_no_values_gives_prior_or_error() -> None:
    prior = lognormal(0.25, 0.5)
    assert fit([], prior) is prior
    with pytest.raises(ValueError, match="expected values or a prior"):
        fit([])


def test_zero_latency_is_clamped_not_rejected() -> None:
    d = fit([0.0, 0.001, 0.002])
    assert math.isfinite(d.mu) and d.mu > math.log(1e-6) - 1e-9


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([0.1, -0.5], r"#1 is -0\.5; expected a finite number >= 0"),
        ([float("nan")], r"#0 is nan"),
        ([float("inf")], r"#0 is inf"),
        (["fast"], r"'fast' is not a number"),
    ],
)
def test_bad_values_raise(values: list[object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit(values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: lognormal(0.0, 0.5), "median 0.0 is invalid; expected a finite number > 0"),
        (lambda: lognormal(1.0, -1.0), "sigma -1.0 is invalid"),
        (lambda: Distribution("gamma"), "unknown distribution kind 'gamma'"),
        (lambda: empirical([]), "at least one sample"),
        (lambda: constant(-1.0), "expected a finite number >= 0"),
        (lambda: lognormal(1.0, 0.5).quantile(1.5), "expected 0 <= q <= 1"),
        (lambda: lognormal(1.0, 0.5).quantile_table(0), "positive integer k"),
        (lambda: lognormal(1.0, 0.5).scaled(0.0), "expected a finite number > 0"),
        (lambda: fit([1.0], empirical_min=0), "empirical_min must be >= 1"),
    ],
)
def test_bad_parameters_raise(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]


# ---- queries ----


def test_mean_quantile_and_sample_agree() -> None:
    d = lognormal(0.25, 0.5)
    assert d.quantile(0.5) == pytest.approx(0.25)
    assert d.quantile(0.95) == pytest.approx(0.25 * math.exp(0.5 * 1.6448536269514722))
    draws = d.sample(np.random.default_rng(0), 200_000)
    assert draws.dtype == np.float64
    assert draws.mean() == pytest.approx(d.mean(), rel=0.01)
    e = empirical([3.0, 1.0, 2.0])
    assert e.samples == (1.0, 2.0, 3.0)
    assert set(e.sample(np.random.default_rng(0), 100)) == {1.0, 2.0, 3.0}
    assert constant(0.5).sample(np.random.default_rng(0), 3).tolist() == [0.5] * 3


def test_scaled() -> None:
    assert lognormal(0.2, 0.4).scaled(3.0).quantile(0.5) == pytest.approx(0.6)
    assert empirical([1.0, 2.0]).scaled(2.0).samples == (2.0, 4.0)
    assert constant(1.5).scaled(2.0).mean() == 3.0


def test_describe() -> None:
    assert lognormal(0.25, 0.5).describe() == "lognormal(median=0.250 s, sigma=0.50) prior"
    assert "empirical(n=2" in empirical([1.0, 2.0]).describe()
    assert constant(8.0).describe("") == "constant(8.000) constant"


# ---- quantile tables ----


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0, 1.5])
@pytest.mark.parametrize("k", [1, 16, 1024])
def test_lognormal_table_keeps_mean(sigma: float, k: int) -> None:
    d = lognormal(0.3, sigma)
    table = d.quantile_table(k)
    assert table.shape == (k,) and table.dtype == np.float64
    assert np.all(np.diff(table) >= 0)
    assert table.mean() == pytest.approx(d.mean(), rel=1e-9)


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0, 1.5])
@pytest.mark.parametrize("k", [8, 100, 4096])
def test_lognormal_table_ks_within_one_over_k(sigma: float, k: int) -> None:
    d = lognormal(0.3, sigma)
    table = d.quantile_table(k)
    distance = _ks_continuous(d, table)
    assert distance <= 1 / k + 1e-12


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0, 1.5])
def test_lognormal_table_quantiles_within_one_percent(sigma: float) -> None:
    d = lognormal(0.3, sigma)
    table = d.quantile_table(4096)
    for q in (0.5, 0.95):
        assert np.quantile(table, q) == pytest.approx(d.quantile(q), rel=0.01)


def test_zero_sigma_table_is_constant() -> None:
    assert np.all(lognormal(0.3, 0.0).quantile_table(7) == pytest.approx(0.3))


@pytest.mark.parametrize("m", [1, 3, 50, 137, 5000])
@pytest.mark.parametrize("k", [1, 7, 64, 4096])
def test_empirical_table_keeps_mean_and_ks(m: int, k: int) -> None:
    values = np.random.default_rng(m).lognormal(-1.0, 1.0, m)
    values[: m // 4] = values[0]  # ties, as repeated timer readings produce
    d = empirical(values)
    table = d.quantile_table(k)
    assert table.shape == (k,) and np.all(np.diff(table) >= 0)
    assert table.mean() == pytest.approx(d.mean(), rel=1e-9)
    # Both CDFs are right-continuous steps: the sup is attained at one of their jumps.
    points = np.union1d(table, values)
    cdf = np.searchsorted(np.sort(values), points, side="right") / m
    table_cdf = np.searchsorted(table, points, side="right") / k
    assert np.max(np.abs(cdf - table_cdf)) <= 1 / k + 1e-9


def test_constant_table() -> None:
    assert constant(2.5).quantile_table(4).tolist() == [2.5] * 4


def test_table_is_a_fresh_array() -> None:
    d = lognormal(0.3, 0.5)
    t = d.quantile_table(8)
    t[0] = -1.0
    assert d.quantile_table(8)[0] > 0


def test_caches_leave_values_and_pickles_alone() -> None:
    samples = tuple(float(x) for x in np.random.default_rng(3).lognormal(0, 0.5, 2000))
    d = Distribution("empirical", samples=samples)
    twin = Distribution("empirical", samples=samples)
    assert hash(d) == hash(twin) and d == twin and {d: 1}[twin] == 1
    table = d.quantile_table(8)
    table[:] = -1.0  # the caller's copy: the next table is untouched
    np.testing.assert_array_equal(d.quantile_table(8), twin.quantile_table(8))
    restored = pickle.loads(pickle.dumps(d))
    assert not [k for k in vars(restored) if k.startswith("_")]  # hashes differ per process
    assert restored == d and hash(restored) == hash(d)
