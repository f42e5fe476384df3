"""The cost model: priors from effects, fits from the profile store, LLM regression, branches."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

from agentjit.cost.distributions import lognormal
from agentjit.cost.model import CostModel, Priors
from agentjit.cost.profile import ProfileStore, Sample
from agentjit.ir import Effects

NAVIGATE = Effects(navigates=True)
READ = Effects(reads_page=True)
WRITE = Effects(reads_page=True, writes=frozenset({"shop.basket"}))


@pytest.fixture
def store() -> ProfileStore:
    return ProfileStore(":memory:")


def test_priors_are_ordered_by_effects() -> None:
    model = CostModel()
    read = model.tool_latency("shop.list_products", READ)
    write = model.tool_latency("shop.add_to_basket", WRITE)
    navigate = model.tool_latency("shop.open_category", NAVIGATE)
    assert read.mean() < write.mean() < navigate.mean()
    assert read.source == "prior" and read.quantile(0.5) == pytest.approx(Priors().read_median)
    assert write.quantile(0.5) == pytest.approx(Priors().read_median * Priors().write_factor)


def test_no_store_touches_no_file(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTJIT_PROFILE", str(tmp_path / "p.sqlite"))
    monkeypatch.setenv("HOME", str(tmp_path))
    model = CostModel()
    model.tool_latency("shop.search", READ)
    model.llm_latency("gpt", 100, 10)
    model.trip_count("a:1:1")
    assert model.branch_probability("a:2:1") == 0.5
    assert model.describe() == []
    assert list(tmp_path.iterdir()) == []


def test_primitives() -> None:
    model = CostModel()
    p = Priors()
    assert model.primitive_latency("tab.open").quantile(0.5) == pytest.approx(p.tab_open_median)
    assert model.primitive_latency("tab.close").quantile(0.5) == pytest.approx(p.tab_close_median)
    goto = model.primitive_latency("browser.goto").quantile(0.5)
    assert goto == pytest.approx(p.navigate_median)
    assert model.primitive_latency("browser.mystery").quantile(0.5) == pytest.approx(p.read_median)


def _measure(store: ProfileStore, key: str, values: np.ndarray) -> None:
    store.append(Sample("latency", key, float(v)) for v in values)


def test_many_samples_move_the_mean_to_the_measurement(store: ProfileStore) -> None:
    measured = np.random.default_rng(3).lognormal(math.log(0.8), 0.3, 200)
    _measure(store, "shop.search", measured)
    d = CostModel(store).tool_latency("shop.search", READ)
    assert d.source == "empirical" and d.n == 200
    assert d.mean() == pytest.approx(measured.mean(), rel=0.05)


def test_few_samples_move_the_mean_part_way(store: ProfileStore) -> None:
    _measure(store, "shop.search", np.full(5, 0.8))
    model = CostModel(store)
    prior = CostModel().tool_latency("shop.search", READ)
    d = model.tool_latency("shop.search", READ)
    assert d.source == "fitted" and d.n == 5
    assert prior.quantile(0.5) < d.quantile(0.5) < 0.8
    assert prior.mean() < d.mean()


def test_window_keeps_only_the_newest_samples(store: ProfileStore) -> None:
    _measure(store, "k", np.full(60, 5.0))
    _measure(store, "k", np.full(60, 0.1))
    d = CostModel(store, window=60).tool_latency("k", READ)
    assert d.mean() == pytest.approx(0.1)


def test_llm_fit_recovers_coefficients(store: ProfileStore) -> None:
    rng = np.random.default_rng(7)
    prompt = rng.integers(50, 4000, 400)
    output = rng.integers(5, 500, 400)
    truth = 0.5 + prompt / 1000 + output / 50
    latency = truth * rng.lognormal(0.0, 0.02, 400)
    store.append(
        Sample("latency", "llm:m", float(t), prompt_tokens=int(p), output_tokens=int(o))
        for t, p, o in zip(latency, prompt, output, strict=True)
    )
    d = CostModel(store).llm_latency("m", 1000, 100)
    assert d.source == "fitted" and d.n == 400
    assert d.quantile(0.5) == pytest.approx(0.5 + 1.0 + 2.0, rel=0.01)
    assert 0.05 <= d.sigma < 0.1
    coef, _, _ = CostModel(store)._llm_fit("m")
    assert coef == pytest.approx([0.5, 1 / 1000, 1 / 50], rel=0.05)


def test_llm_prior_and_degenerate_fit(store: ProfileStore) -> None:
    p = Priors()
    prior = CostModel(store).llm_latency("m", 200, 30)
    assert prior.source == "prior" and prior.sigma == p.llm_sigma
    expected = p.llm_base + 200 * p.llm_per_prompt_token + 30 * p.llm_per_output_token
    assert prior.quantile(0.5) == pytest.approx(expected)
    default_out = CostModel().llm_latency("m", 0).quantile(0.5)
    assert default_out == pytest.approx(p.llm_base + p.llm_output_tokens * p.llm_per_output_token)
    # Every call the same size: the three coefficients cannot be told apart.
    store.append(
        Sample("latency", "llm:m", 2.0, prompt_tokens=200, output_tokens=30) for _ in range(10)
    )
    fitted = CostModel(store).llm_latency("m", 200, 30)
    assert fitted.source == "fitted" and fitted.quantile(0.5) == pytest.approx(2.0)


def test_trip_count_and_list_length(store: ProfileStore) -> None:
    model = CostModel()
    assert model.trip_count("a:3:5").quantile(0.5) == pytest.approx(Priors().trips_median)
    custom = lognormal(2.0, 0.1)
    assert CostModel().trip_count("a:3:5", custom) is custom
    store.append(Sample("trips", "a:3:5", float(v)) for v in [0, 3, 3, 4] * 20)
    d = CostModel(store).trip_count("a:3:5")
    assert d.kind == "empirical" and d.mean() == pytest.approx(2.5)
    store.append(Sample("length", "shop.list_products", 20.0) for _ in range(4))
    length = CostModel(store).list_length("shop.list_products")
    assert Priors().trips_median < length.quantile(0.5) < 20.0


def test_branch_posterior(store: ProfileStore) -> None:
    store.append(Sample("branch", "a:9:5", v) for v in [1.0] * 7 + [0.0] * 1)
    model = CostModel(store)
    assert model.branch_probability("a:9:5") == pytest.approx((1 + 7) / (2 + 8))
    assert model.branch_probability("never") == 0.5
    skewed = CostModel(store, Priors(branch_prior=(9.0, 1.0)))
    assert skewed.branch_probability("never") == pytest.approx(0.9)


def test_memoized_within_an_instance_fresh_across_instances(store: ProfileStore) -> None:
    model = CostModel(store)
    before = model.tool_latency("shop.search", READ)
    _measure(store, "shop.search", np.full(100, 2.0))
    assert model.tool_latency("shop.search", READ) is before
    after = CostModel(store).tool_latency("shop.search", READ)
    assert after.mean() == pytest.approx(2.0)


def test_describe_lists_every_key(store: ProfileStore) -> None:
    _measure(store, "tab.open", np.full(3, 0.04))
    store.append([Sample("branch", "a:1:1", 1.0), Sample("trips", "a:2:1", 5.0)])
    store.append(
        Sample("latency", "llm:m", 1.0, prompt_tokens=10 * i, output_tokens=i) for i in range(1, 5)
    )
    rows = {(kind, key): (n, d) for kind, key, n, d in CostModel(store).describe()}
    assert set(rows) == {
        ("latency", "tab.open"),
        ("latency", "llm:m"),
        ("branch", "a:1:1"),
        ("trips", "a:2:1"),
    }
    assert rows["branch", "a:1:1"][1].mean() == pytest.approx(2 / 3)
    assert rows["latency", "tab.open"][0] == 3
    assert all(d.source == "fitted" for _, d in rows.values())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="window must be >= 1"):
        CostModel(window=0)
    with pytest.raises(ValueError, match="token counts must be >= 0"):
        CostModel().llm_latency("m", -1, 3)
