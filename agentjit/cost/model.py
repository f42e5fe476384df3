"""The cost model: the distribution of every op's latency, trip count and branch outcome.

The simulator asks it questions like "how long does shop.search take?" or "how many times does the
loop at a.agent:7 run?". Each answer is a `Distribution` fitted from the profile store's samples
(the newest `window` of them), shrunk toward a documented prior, so an op never measured still
gets a sensible prediction and a well-measured op gets its measured one. LLM latency is a linear
function of token counts, fitted by least squares. Answers are memoized per instance; build a new
`CostModel` to see samples appended since.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentjit.cost.distributions import Distribution, constant, fit, lognormal
from agentjit.cost.profile import ProfileStore
from agentjit.ir import Effects

COUNT_FLOOR = 0.5
"""A count of 0 enters the log-normal fit as 0.5: a loop that sometimes runs no iterations pulls its
prediction down instead of having no logarithm (the empirical fit keeps the 0)."""

LLM_MIN_SAMPLES = 3
"""Below this many measured calls of a model, its latency comes from the prior alone."""


@dataclass(frozen=True)
class Priors:
    """What the model predicts before any measurement (seconds unless noted).

    The browser figures are from /work/shared/research/env.md (one Chromium on this machine).
    """

    navigate_median: float = 0.25
    """Selenium get() of a tiny page is 54-80 ms; a real app page loads in a few hundred ms."""
    read_median: float = 0.03
    """find+text is 17-18 ms over Selenium, CDP evaluate 0.6 ms; a tool reads several elements."""
    write_factor: float = 1.6
    """find+click is 63 ms against about 40 ms to find and read: writing costs more than reading."""
    sigma: float = 0.5
    """Log-space spread: the p95 is 2.3x the median, about the spread of page loads."""
    tab_open_median: float = 0.05
    """A new tab is a target create plus a blank load, the order of a tiny page load (54 ms)."""
    tab_close_median: float = 0.005
    """Closing a tab is one CDP command, a few ms like execute_script (4-5 ms)."""
    llm_base: float = 0.3
    """Request overhead and time to first token of a hosted model."""
    llm_per_prompt_token: float = 1 / 200
    """Prompt processing of a hosted model."""
    llm_per_output_token: float = 1 / 30
    """About 30 output tokens a second."""
    llm_sigma: float = 0.25
    """Hosted-model latency varies less than page loads around its token-count prediction."""
    llm_output_tokens: int = 64
    """Output tokens assumed when a call sets no limit."""
    trips_median: float = 8.0
    """A results page typically lists about ten items; a loop over them runs about that often."""
    trips_sigma: float = 0.5
    """Lists vary from a handful to a few dozen items."""
    branch_prior: tuple[float, float] = (1.0, 1.0)
    """Beta(1, 1): a never-seen branch is a coin flip."""


# Browser primitives by how they behave: navigations load a page, actions change it.
_NAVIGATING = frozenset({"goto", "navigate", "back", "forward", "reload"})
_ACTING = frozenset({"click", "type", "fill", "press", "select", "submit", "check"})


class CostModel:
    """Latency, trip-count, list-length and branch distributions from a profile store."""

    def __init__(
        self,
        store: ProfileStore | None = None,
        priors: Priors = Priors(),
        *,
        empirical_min: int = 50,
        window: int = 2000,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1 sample, got {window!r}")
        self.store = store
        self.priors = priors
        self.empirical_min = empirical_min
        self.window = window
        self._fits: dict[tuple[object, ...], Distribution] = {}
        self._llm: dict[str, tuple[np.ndarray, float, int]] = {}

    # ---- latencies ----

    def tool_latency(self, qualified_name: str, effects: Effects) -> Distribution:
        """Latency of a site tool: a prior from its effects, refined by its measurements."""
        memo = ("tool", qualified_name, effects.navigates, bool(effects.writes))
        if memo not in self._fits:
            median = self.priors.navigate_median if effects.navigates else self.priors.read_median
            if effects.writes:
                median *= self.priors.write_factor
            self._fits[memo] = self._latency(qualified_name, lognormal(median, self.priors.sigma))
        return self._fits[memo]

    def primitive_latency(self, name: str) -> Distribution:
        """Latency of `tab.open`, `tab.close` or `browser.<prim>`; other names get the read
        prior."""
        memo = ("primitive", name)
        if memo not in self._fits:
            prior = lognormal(self._primitive_median(name), self.priors.sigma)
            self._fits[memo] = self._latency(name, prior)
        return self._fits[memo]

    def llm_latency(
        self, model: str, prompt_tokens: int, output_tokens: int | None = None
    ) -> Distribution:
        """Latency of one call: median base + a*prompt_tokens + b*output_tokens, log-normal.
        `output_tokens` None (a call with no limit) means `priors.llm_output_tokens`."""
        if output_tokens is None:
            output_tokens = self.priors.llm_output_tokens
        if prompt_tokens < 0 or output_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got prompt={prompt_tokens}, output={output_tokens}"
            )
        coef, sigma, n = self._llm_fit(model)
        predicted = float(coef @ np.array([1.0, prompt_tokens, output_tokens]))
        source = "fitted" if n else "prior"
        return lognormal(max(predicted, 1e-3), sigma, source=source, n=n)

    # ---- counts and branches ----

    def trip_count(self, key: str, prior: Distribution | None = None) -> Distribution:
        """Trip count of the loop at `key` (default prior: log-normal around `trips_median`)."""
        return self._count("trips", key, prior or self._count_prior())

    def list_length(self, tool: str) -> Distribution:
        """Length of the list `tool` returns, with the trip-count prior."""
        return self._count("length", tool, self._count_prior())

    def branch_probability(self, key: str) -> float:
        """P(taken) of the if at `key`: the Beta posterior mean (a + taken) / (a + b + n)."""
        a, b = self.priors.branch_prior
        outcomes = self._values("branch", key)
        return float((a + outcomes.sum()) / (a + b + outcomes.size))

    def describe(self) -> list[tuple[str, str, int, Distribution]]:
        """(kind, key, n, fitted distribution) for every key in the store, as `profile show`
        lists them. Tools are shown with the read prior (the store does not know their effects),
        LLM models at their median observed token counts, branches as a constant probability."""
        if self.store is None:
            return []
        counts = self.store.keys()
        return [(kind, key, n, self._describe_one(kind, key, n)) for kind, key, n in counts]

    # ---- internals ----

    def _values(self, kind: str, key: str) -> np.ndarray:
        if self.store is None:
            return np.empty(0, dtype=np.float64)
        return self.store.values(kind, key, self.window)

    def _latency(self, key: str, prior: Distribution) -> Distribution:
        memo = ("latency", key, prior)
        if memo not in self._fits:
            values = self._values("latency", key)
            self._fits[memo] = fit(values, prior, empirical_min=self.empirical_min)
        return self._fits[memo]

    def _count(self, kind: str, key: str, prior: Distribution) -> Distribution:
        memo = (kind, key, prior)
        if memo not in self._fits:
            values = self._values(kind, key)
            self._fits[memo] = fit(
                values, prior, empirical_min=self.empirical_min, floor=COUNT_FLOOR
            )
        return self._fits[memo]

    def _count_prior(self) -> Distribution:
        return lognormal(self.priors.trips_median, self.priors.trips_sigma)

    def _primitive_median(self, name: str) -> float:
        p = self.priors
        if name == "tab.open":
            return p.tab_open_median
        if name == "tab.close":
            return p.tab_close_median
        prim = name.removeprefix("browser.")
        if prim != name and prim in _NAVIGATING:
            return p.navigate_median
        if prim != name and prim in _ACTING:
            return p.read_median * p.write_factor
        return p.read_median

    def _llm_prior_coef(self) -> np.ndarray:
        p = self.priors
        return np.array([p.llm_base, p.llm_per_prompt_token, p.llm_per_output_token])

    def _llm_fit(self, model: str) -> tuple[np.ndarray, float, int]:
        """(coefficients [base, per prompt token, per output token], sigma, n) for `model`."""
        if model not in self._llm:
            rows = (
                self.store.llm_samples(model, self.window)
                if self.store is not None
                else np.empty((0, 3))
            )
            if len(rows) < LLM_MIN_SAMPLES:
                self._llm[model] = (self._llm_prior_coef(), self.priors.llm_sigma, 0)
            else:
                self._llm[model] = _fit_llm(rows, self._llm_prior_coef())
        return self._llm[model]

    def _describe_one(self, kind: str, key: str, n: int) -> Distribution:
        if kind == "branch":
            p = self.branch_probability(key)
            return constant(p, source="fitted" if n else "prior", n=n)
        if kind == "trips":
            return self.trip_count(key)
        if kind == "length":
            return self.list_length(key)
        if key.startswith("llm:") and self.store is not None:
            rows = self.store.llm_samples(key.removeprefix("llm:"), self.window)
            if len(rows):
                tokens = np.median(rows[:, 1:], axis=0)
                return self.llm_latency(key.removeprefix("llm:"), *map(round, tokens))
        return self.primitive_latency(key)


def cost_model_for(profile: str | None = None, backend: str = "cdp") -> CostModel:
    """A cost model over the profile store: `profile`, else $AGENTJIT_PROFILE or the default
    path when that file exists, else the priors alone; latencies measured on `backend`."""
    from pathlib import Path

    path = Path(profile) if profile else ProfileStore.default_path()
    if profile is None and not path.exists():
        return CostModel()
    return CostModel(ProfileStore(path, backend=backend))


def _fit_llm(rows: np.ndarray, prior_coef: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Least squares latency ~ base + a*prompt + b*output, coefficients clipped at 0.

    When the token counts cannot separate the three coefficients (every call the same size, say)
    the prior's coefficients are kept and scaled to the measured mean latency.
    """
    latency = rows[:, 0]
    design = np.column_stack([np.ones(len(rows)), rows[:, 1], rows[:, 2]])
    coef, _, rank, _ = np.linalg.lstsq(design, latency, rcond=None)
    coef = np.clip(coef, 0.0, None)
    if rank < 3 or not np.all(np.isfinite(coef)) or not np.any(coef > 0):
        coef = prior_coef * (latency.mean() / max(float((design @ prior_coef).mean()), 1e-9))
    predicted = np.maximum(design @ coef, 1e-3)
    residual = np.log(np.maximum(latency, 1e-6) / predicted)
    sigma = max(float(residual.std()), 0.05)
    return coef, sigma, len(rows)
