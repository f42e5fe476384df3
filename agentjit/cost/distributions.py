"""Latency and count distributions: the values the cost model hands to the simulator.

A `Distribution` is one of three shapes: a log-normal (fitted by maximum likelihood, or a prior),
an empirical distribution that resamples observed values, or a constant. Each can be sampled
exactly, queried for its mean and quantiles, and turned into a `quantile_table`: k equally likely
atoms that keep the mean exactly and lie within 1/k of the true CDF everywhere. The Numba
simulator draws a random atom index instead of computing an exp per draw.

`fit` turns observations into a distribution: few observations give a log-normal shrunk toward a
prior (the prior counts as a few pseudo-observations), many give the empirical distribution.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist

import numpy as np

KINDS = ("lognormal", "empirical", "constant")
SOURCES = ("prior", "fitted", "empirical", "constant")

LATENCY_FLOOR = 1e-6
"""Zero latencies are clamped to this before taking logs: timers report 0 for sub-microsecond
operations, and a log-normal cannot hold a zero."""

_STD_NORMAL = NormalDist()
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class Distribution:
    """A distribution over non-negative values (seconds for latencies, or counts)."""

    kind: str
    mu: float = 0.0
    """lognormal: mean of log(x)."""
    sigma: float = 0.0
    """lognormal: standard deviation of log(x)."""
    samples: tuple[float, ...] = field(default=(), repr=False)
    """empirical: the observed values, sorted ascending."""
    value: float = 0.0
    """constant: the value."""
    source: str = "prior"
    """Who produced it: prior, fitted, empirical or constant (shown by `profile show`)."""
    n: int = 0
    """How many observations it rests on."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown distribution kind {self.kind!r}; expected one of {KINDS}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; expected one of {SOURCES}")
        if self.kind == "lognormal":
            _check_lognormal(self.mu, self.sigma)
        elif self.kind == "empirical":
            arr = _validated(self.samples, what="empirical sample")
            if arr.size == 0:
                raise ValueError("an empirical distribution needs at least one sample")
            object.__setattr__(self, "samples", tuple(np.sort(arr).tolist()))
        else:
            _validated([self.value], what="constant")

    def __hash__(self) -> int:
        # An empirical distribution holds up to a window of samples: hash them once, not at
        # every lookup (the plan builder looks each node's distribution up).
        cached = self.__dict__.get("_hash")
        if cached is None:
            fields = (self.kind, self.mu, self.sigma, self.samples, self.value, self.source, self.n)
            cached = hash(fields)
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict[str, object]:
        # The caches stay behind: a string's hash differs from one process to the next.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def mean(self) -> float:
        """The expected value."""
        if self.kind == "lognormal":
            return math.exp(self.mu + 0.5 * self.sigma**2)
        if self.kind == "empirical":
            return float(np.mean(self.samples))
        return float(self.value)

    def median(self) -> float:
        return self.quantile(0.5)

    def quantile(self, q: float) -> float:
        """The exact q-quantile (empirical: numpy's linear interpolation between samples)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile level {q!r} is out of range; expected 0 <= q <= 1")
        if self.kind == "constant":
            return float(self.value)
        if self.kind == "empirical":
            return float(np.quantile(np.asarray(self.samples), q))
        if q == 0.0:
            return 0.0
        if q == 1.0:
            return math.inf
        return math.exp(self.mu + self.sigma * _STD_NORMAL.inv_cdf(q))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` exact, independent draws as float64."""
        if self.kind == "lognormal":
            return rng.lognormal(self.mu, self.sigma, size).astype(np.float64)
        if self.kind == "empirical":
            return rng.choice(np.asarray(self.samples, dtype=np.float64), size)
        return np.full(size, self.value, dtype=np.float64)

    def quantile_table(self, k: int) -> np.ndarray:
        """k ascending atoms; a uniformly random atom has this distribution's mean exactly and a
        CDF within 1/k of this one's everywhere (atom i is the mean over quantile bin i)."""
        if not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"quantile_table needs a positive integer k, got {k!r}")
        # Every plan that uses this distribution asks again; an empirical table sorts samples.
        k = int(k)
        tables = self.__dict__.setdefault("_tables", {})
        if k not in tables:
            tables[k] = self._quantile_table(k)
        return tables[k].copy()

    def _quantile_table(self, k: int) -> np.ndarray:
        if self.kind == "lognormal":
            return _lognormal_table(self.mu, self.sigma, k)
        if self.kind == "empirical":
            return _empirical_table(np.asarray(self.samples, dtype=np.float64), k)
        return np.full(k, self.value, dtype=np.float64)

    def scaled(self, factor: float) -> Distribution:
        """The distribution of factor * X."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"scale factor {factor!r} is invalid; expected a finite number > 0")
        if self.kind == "lognormal":
            return Distribution(
                "lognormal", self.mu + math.log(factor), self.sigma, source=self.source, n=self.n
            )
        if self.kind == "empirical":
            scaled = tuple(factor * x for x in self.samples)
            return Distribution("empirical", samples=scaled, source=self.source, n=self.n)
        return Distribution("constant", value=factor * self.value, source=self.source, n=self.n)

    def describe(self, unit: str = "s") -> str:
        """One line, e.g. `lognormal(median=0.250 s, sigma=0.50) prior`."""
        u = f" {unit}" if unit else ""
        if self.kind == "lognormal":
            body = f"lognormal(median={math.exp(self.mu):.3f}{u}, sigma={self.sigma:.2f})"
        elif self.kind == "empirical":
            body = (
                f"empirical(n={len(self.samples)}, median={self.median():.3f}{u}, "
                f"mean={self.mean():.3f}{u})"
            )
        else:
            body = f"constant({self.value:.3f}{u})"
        suffix = f", n={self.n}" if self.n and self.kind != "empirical" else ""
        return f"{body} {self.source}{suffix}"


def lognormal(median: float, sigma: float, source: str = "prior", n: int = 0) -> Distribution:
    """A log-normal with the given median (exp(mu)) and log-space standard deviation."""
    if not (_is_number(median) and math.isfinite(float(median)) and float(median) > 0):
        raise ValueError(f"log-normal median {median!r} is invalid; expected a finite number > 0")
    return Distribution(
        "lognormal", mu=math.log(float(median)), sigma=float(sigma), source=source, n=n
    )


def constant(value: float, source: str = "constant", n: int = 0) -> Distribution:
    """Always `value`."""
    return Distribution("constant", value=float(value), source=source, n=n)


def empirical(values: Iterable[float], source: str = "empirical", n: int = 0) -> Distribution:
    """Resamples the observed `values` (n defaults to how many there are)."""
    samples = tuple(_validated(values, what="empirical sample").tolist())
    return Distribution("empirical", samples=samples, source=source, n=n or len(samples))


def fit(
    values: Iterable[float],
    prior: Distribution | None = None,
    *,
    empirical_min: int = 50,
    prior_weight: float = 3.0,
    floor: float = LATENCY_FLOOR,
) -> Distribution:
    """The distribution of `values`, falling back on and shrunk toward `prior`.

    No values: the prior. At least `empirical_min` values: the empirical distribution. Otherwise
    a log-normal whose log-mean pools the data's with the prior's, the prior counting as
    `prior_weight` observations, so a few samples move it part way and many dominate; its
    log-variance pools the within-group variances the same way. Values below
    `floor` are raised to it before taking logs (the empirical distribution keeps them as is).
    """
    if empirical_min < 1:
        raise ValueError(f"empirical_min must be >= 1, got {empirical_min!r}")
    if not (math.isfinite(prior_weight) and prior_weight >= 0):
        raise ValueError(f"prior_weight must be a finite number >= 0, got {prior_weight!r}")
    if not (math.isfinite(floor) and floor > 0):
        raise ValueError(f"floor must be a finite number > 0, got {floor!r}")
    arr = _validated(values, what="value")
    n = int(arr.size)
    if n == 0:
        if prior is None:
            raise ValueError("cannot fit a distribution to no values; expected values or a prior")
        return prior
    if n >= empirical_min:
        return empirical(arr, source="empirical", n=n)
    logs = np.log(np.maximum(arr, floor))
    mean_log, var_log = float(logs.mean()), float(logs.var())
    if prior is None or prior_weight == 0:
        return Distribution(
            "lognormal", mu=mean_log, sigma=math.sqrt(var_log), source="fitted", n=n
        )
    mu0, sigma0 = _log_moments(prior, floor)
    w = prior_weight
    mu = (w * mu0 + n * mean_log) / (w + n)
    # Within-group spread only: counting the gap between the prior's and the data's means as
    # spread too made a prior far from the data (a 50 ms prior, 5 us warm-pool samples) a
    # sigma of 4 and a mean of seconds, the opposite of what the samples say.
    var = (w * sigma0**2 + n * var_log) / (w + n)
    return Distribution("lognormal", mu=mu, sigma=math.sqrt(var), source="fitted", n=n)


# ---- helpers ----


def _check_lognormal(mu: float, sigma: float) -> None:
    if not math.isfinite(mu):
        raise ValueError(f"log-normal mu {mu!r} is invalid; expected a finite number")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"log-normal sigma {sigma!r} is invalid; expected a finite number >= 0")


def _validated(values: Iterable[float], what: str) -> np.ndarray:
    """`values` as float64, or a ValueError naming the first value that is not finite and >= 0."""
    items = values if isinstance(values, np.ndarray) else list(values)
    try:
        arr = np.asarray(items, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        bad = next(v for v in items if not _is_number(v))
        raise ValueError(f"{what} {bad!r} is not a number; expected a finite number >= 0") from None
    bad_at = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if bad_at.size:
        i = int(bad_at[0])
        raise ValueError(f"{what} #{i} is {float(arr[i])!r}; expected a finite number >= 0")
    return arr


def _is_number(v: object) -> bool:
    try:
        float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _log_moments(prior: Distribution, floor: float) -> tuple[float, float]:
    """(mean, std) of log X under `prior`; a constant has std 0."""
    if prior.kind == "lognormal":
        return prior.mu, prior.sigma
    if prior.kind == "constant":
        return math.log(max(prior.value, floor)), 0.0
    logs = np.log(np.maximum(np.asarray(prior.samples), floor))
    return float(logs.mean()), float(logs.std())


def _phi_lower(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


def _phi_upper(x: float) -> float:
    return 0.5 * math.erfc(x / _SQRT2)


@lru_cache(maxsize=256)
def _lognormal_table(mu: float, sigma: float, k: int) -> np.ndarray:
    mean = math.exp(mu + 0.5 * sigma**2)
    if sigma == 0.0:
        return np.full(k, mean, dtype=np.float64)
    # Bin i of X is bin [z_i, z_{i+1}] of the standard normal; X's partial mean over it is
    # mean * (Phi(z_{i+1} - sigma) - Phi(z_i - sigma)).
    edges = [-math.inf, *(_STD_NORMAL.inv_cdf(i / k) for i in range(1, k)), math.inf]
    masses = np.empty(k, dtype=np.float64)
    for i in range(k):
        a, b = edges[i] - sigma, edges[i + 1] - sigma
        # Subtract upper-tail probabilities above 0 so tail bins keep their relative precision.
        masses[i] = _phi_upper(a) - _phi_upper(b) if a >= 0 else _phi_lower(b) - _phi_lower(a)
    table = np.sort(k * mean * masses)
    table.setflags(write=False)
    return table


def _empirical_table(samples: np.ndarray, k: int) -> np.ndarray:
    """Atom i = k * integral of the sample quantile function over [i/k, (i+1)/k)."""
    m = samples.size
    prefix = np.concatenate(([0.0], np.cumsum(samples)))
    padded = np.concatenate((samples, [0.0]))
    # Positions on the sample axis, scaled by k to stay integer: bin i spans [i*m, (i+1)*m) / k.
    ends = np.arange(k + 1, dtype=np.int64) * m
    whole, part = ends // k, (ends % k) / k
    integral = prefix[whole] + part * padded[whole]
    atoms = (integral[1:] - integral[:-1]) * (k / m)
    # Cancellation in the prefix sums must not move an atom out of its bin's sample range: a bin
    # over equal samples (one sample, or ties) is that value exactly.
    low, high = samples[whole[:-1]], samples[(ends[1:] - 1) // k]
    atoms = np.clip(atoms, low, high)
    return np.sort(atoms)
