"""The plan cache: task templates, lifting programs over parameters, hits without a model call,
stale entries dropped; and `agentjit cache ls|clear`. The model is `ScriptedClient`, a test
double."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentjit.cli import main
from agentjit.planner.cache import PlanCache
from agentjit.planner.compile_task import NoValidPlan, compile_task
from agentjit.planner.plan import PlanSettings
from agentjit.planner.task import Param, instantiate, lift, normalize_task
from agentjit.tools import load_site
from tests.scripted_llm import ScriptedClient

SHOP = load_site("shop")
CHEAPEST = """use shop
def main() -> str:
    open_category(name="Cables")
    items = [p for p in list_products() if p.in_stock and p.price < 25]
    best = min(items, key=lambda p: p.price)
    add_to_basket(title=best.title)
    return best.title
"""
SETTINGS = PlanSettings(k=1, rounds=0, grammar=False, samples=200)


@pytest.fixture
def cache(tmp_path: Path) -> PlanCache:
    return PlanCache(tmp_path / "plans.db")


@pytest.mark.parametrize(
    ("task", "template", "values"),
    [
        ('Buy 2 of "USB cable"', "buy {p0} of {p1}", ["2", "USB cable"]),
        ("Buy the cheapest product in Cables.", "buy the cheapest product in {p0}", ["Cables"]),
        ("  Mail  ada@example.com  ", "mail {p0}", ["ada@example.com"]),
        ("Find 3.5 stars, not v2", "find {p0} stars, not v2", ["3.5"]),
    ],
)
def test_normalize_task(task: str, template: str, values: list[str]) -> None:
    got, params = normalize_task(task)
    assert got == template and [p.value for p in params] == values


def test_lift_and_instantiate_round_trip() -> None:
    _, params = normalize_task("Buy in Cables under 25")
    lifted, which = lift(CHEAPEST, params)
    assert which == [True, True] and "Cables" not in lifted and "25" not in lifted
    assert instantiate(lifted, params) == CHEAPEST
    other = instantiate(lifted, [Param('Books "new"', False), Param("30", True)])
    assert 'open_category(name="Books \\"new\\"")' in other and "p.price < 30" in other


def test_a_longer_value_is_lifted_before_its_prefix() -> None:
    params = [Param("USB", False), Param("USB cable", False)]
    lifted, which = lift('search(query="USB cable")\nx = "USB"\n', params)
    assert which == [True, True]
    assert instantiate(lifted, [Param("A", False), Param("B c", False)]) == (
        'search(query="B c")\nx = "A"\n'
    )


def test_store_and_lookup(cache: PlanCache) -> None:
    cache.store("Buy the cheapest in Cables under 25", "shop", "1", "m", CHEAPEST)
    hit = cache.lookup("buy the cheapest in Books under 9", "shop", "1", "m")
    assert hit is not None and 'name="Books"' in hit and "< 9" in hit
    assert cache.lookup("Buy the cheapest in Books under 9", "shop", "2", "m") is None
    assert cache.lookup("Buy the cheapest in Books under 9", "shop", "1", "other") is None
    assert cache.lookup("Sell the cheapest in Books under 9", "shop", "1", "m") is None
    assert [e.hits for e in cache.entries()] == [1]


def test_a_parameter_the_program_does_not_spell_must_match(cache: PlanCache) -> None:
    cache.store("Buy in Cables for Ada", "shop", "1", "m", CHEAPEST)  # "Ada" is not in it
    assert cache.lookup("Buy in Books for Ada", "shop", "1", "m") is not None
    assert cache.lookup("Buy in Books for Bob", "shop", "1", "m") is None


def plan(task: str, client: ScriptedClient, cache: PlanCache):  # type: ignore[no-untyped-def]
    return asyncio.run(compile_task(task, SHOP, client, SETTINGS, model_name="m", cache=cache))


def test_a_repeated_task_compiles_from_the_cache_without_the_model(cache: PlanCache) -> None:
    first = plan("Buy the cheapest in Cables", ScriptedClient([f"```agent\n{CHEAPEST}```"]), cache)
    assert first.source == "llm" and first.module.function("main").schedule
    no_model = ScriptedClient([])  # any call would raise
    again = plan("Buy the cheapest in Books", no_model, cache)
    assert again.source == "cache" and no_model.calls == 0
    assert 'name="Books"' in again.program
    assert again.module.function("main").schedule["strategy"]


def test_a_cached_plan_that_no_longer_compiles_is_replanned(cache: PlanCache) -> None:
    cache.store("Buy the cheapest in Cables", "shop", "1", "m", "use shop\ndef main(:\n")
    client = ScriptedClient([f"```agent\n{CHEAPEST}```"])
    planned = plan("Buy the cheapest in Cables", client, cache)
    assert planned.source == "llm" and client.calls == 1
    assert cache.lookup("Buy the cheapest in Cables", "shop", "1", "m") == CHEAPEST


def test_no_valid_candidate_is_a_located_error(cache: PlanCache) -> None:
    bad = "```agent\nuse shop\ndef main() -> int:\n    return len(list_products())\n```"
    with pytest.raises(NoValidPlan) as info:
        plan("x", ScriptedClient([bad]), cache)
    codes = [d.code for d in info.value.diagnostics]
    assert codes[0] == "no-valid-plan" and "contract" in codes
    assert cache.entries() == []


def test_cache_cli(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AGENTJIT_PLAN_CACHE", str(tmp_path / "p.db"))
    PlanCache().store("Buy in Cables", "shop", "1", "m", CHEAPEST)
    assert main(["cache", "ls"]) == 0
    assert "shop@1  m  hits=0  'buy in {p0}'" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 1 plans" in capsys.readouterr().out
    assert PlanCache().entries() == []
