"""The `schedule` pass, candidate ranking, the Gantt views and the CLI around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentjit.cli import main
from agentjit.cost.gantt import gantt_text, strategy_table
from agentjit.cost.model import CostModel, Priors
from agentjit.cost.rank import KEEP_MIN, race_rounds, rank
from agentjit.cost.simulate import choose
from agentjit.ir import parse_ir
from agentjit.passes import PassContext, PassManager, PipelineError
from tests.helpers import assert_round_trip, compile_dsl, run_outcome

ROOT = Path(__file__).parent.parent
FANOUT_PATH = ROOT / "examples" / "shop_fanout_details.agent"
FANOUT = FANOUT_PATH.read_text()
PARALLEL = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4}"


def scheduled(source: str, pipeline: str = PARALLEL + ",schedule", ctx: PassContext | None = None):
    module = compile_dsl(source)
    ctx = ctx or PassContext()
    PassManager.from_pipeline(pipeline).run(module, ctx)
    return module, ctx


def test_schedule_writes_the_choice_and_prediction_into_the_function() -> None:
    module, ctx = scheduled(FANOUT)
    chosen = module.function("main").schedule
    assert chosen["strategy"] == "parallel-4" and chosen["tabs"] == 4 and chosen["hedge"] == 1
    assert 0 < chosen["p50"] <= chosen["p95"] and chosen["samples"] == 1000
    assert chosen["objective"] == "mean"
    result = ctx.options["schedule"]
    assert result.best.strategy.label == "parallel-4"
    assert [p.mean for p in result.predictions] == sorted(p.mean for p in result.predictions)


def test_scheduled_ir_round_trips_and_keeps_behaviour() -> None:
    module, _ = scheduled(FANOUT)
    assert_round_trip(module)
    before = compile_dsl(FANOUT)
    assert run_outcome(module)[0] == run_outcome(before)[0]


def test_a_plan_with_nothing_to_parallelize_runs_serially() -> None:
    source = (ROOT / "examples" / "shop_checkout_guest.agent").read_text()
    module, ctx = scheduled(source)
    assert module.function("main").schedule["strategy"] == "serial"
    assert len(ctx.options["schedule"].predictions) == 1


def test_heavy_tails_make_hedging_pay() -> None:
    light = PassContext(options={"cost_model": CostModel(priors=Priors(sigma=0.5))})
    heavy = PassContext(options={"cost_model": CostModel(priors=Priors(sigma=1.5))})
    pipeline = PARALLEL + ",schedule{objective=p95,samples=4000}"
    light_module, _ = scheduled(FANOUT, pipeline, light)
    heavy_module, _ = scheduled(FANOUT, pipeline, heavy)
    assert light_module.function("main").schedule["strategy"] == "parallel-4"
    assert heavy_module.function("main").schedule["strategy"].startswith("hedge-")


def test_schedule_is_deterministic_for_a_seed() -> None:
    first, _ = scheduled(FANOUT)
    second, _ = scheduled(FANOUT)
    assert first.function("main").schedule == second.function("main").schedule


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("objective=fastest", "objective must be one of mean, p50, p95"),
        ("samples=0", "samples must be at least 1"),
        ("llm_limit=0", "llm_limit must be at least 1"),
    ],
)
def test_bad_options_are_pipeline_errors(options: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        PassManager.from_pipeline(f"schedule{{{options}}}")


def test_rank_orders_candidates_by_predicted_cost() -> None:
    serial = compile_dsl(FANOUT)
    PassManager.from_pipeline("canonicalize").run(serial, PassContext())
    parallel, _ = scheduled(FANOUT, PARALLEL)
    ranked = rank([serial, parallel], samples=2000)
    assert [r.index for r in ranked] == [1, 0]
    assert ranked[0].score < ranked[1].score / 1.8
    assert ranked[0].row()["strategy"] == "parallel-4"
    tied = rank([serial, serial], samples=500)
    assert [r.index for r in tied] == [0, 1]


def test_gantt_text_and_strategy_table() -> None:
    _, ctx = scheduled(FANOUT)
    result = ctx.options["schedule"]
    table = strategy_table(result.predictions, "mean")
    assert table.splitlines()[1].startswith("parallel-4") and "<- chosen" in table
    chart = gantt_text(result.plan, result.best.strategy)
    rows = chart.splitlines()
    assert rows[0].startswith("parallel-4:")
    assert any(r.startswith("tab 0 ") for r in rows)
    assert sum(r.startswith("tab 1 #") for r in rows) == 8


def test_cli_emit_schedule_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "plan.png"
    args = ["opt", str(FANOUT_PATH), "-p", PARALLEL, "--emit", "schedule", "--plot", str(png)]
    assert main([*args, "--profile", str(tmp_path / "empty.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "<- chosen" in out and "tab 1 #0" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_profile_import_feeds_the_next_prediction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, samples = tmp_path / "p.sqlite", tmp_path / "s.jsonl"
    rows = [{"kind": "latency", "key": "shop.product_details", "value": 3.0}] * 60
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = ["opt", str(FANOUT_PATH), "-p", PARALLEL + ",schedule", "--profile", str(db)]
    assert main(base) == 0
    before = _predicted_mean(capsys.readouterr().out)
    assert main(["profile", "import", str(samples), "--db", str(db)]) == 0
    assert "imported 60" in capsys.readouterr().out
    assert main(base) == 0
    assert _predicted_mean(capsys.readouterr().out) > before + 3.0


def _predicted_mean(ir_text: str) -> float:
    module = parse_ir(ir_text)
    return module.function("main").schedule["mean"]


def test_racing_keeps_the_winner_and_refines_the_leading_pairs() -> None:
    programs = ["shop_fanout_details", "shop_overview", "shop_cheapest", "tracker_my_queue"]
    modules = []
    for name in programs * 3:
        module, _ = scheduled((ROOT / "examples" / f"{name}.agent").read_text(), PARALLEL)
        modules.append(module)
    for objective in ("p50", "p95"):  # quantiles race on order-statistic intervals
        by_quantile = rank(modules, objective=objective, samples=800)
        assert (
            by_quantile[0].index
            == rank(modules, objective=objective, samples=800, race=False)[0].index
        )
    raced = rank(modules, samples=800)
    full = rank(modules, samples=800, race=False)
    assert race_rounds(800) == [52, 200, 800] and race_rounds(1000) == [16, 64, 252, 1000]
    assert raced[0].index == full[0].index
    assert len(raced[0].best.makespans) == 800
    counts = [len(p.makespans) for r in raced for p in r.predictions]
    assert set(counts) <= set(race_rounds(800)) and counts.count(52) > len(counts) // 2
    refined = [(r, p) for r in raced for p in r.predictions if len(p.makespans) == 800]
    assert KEEP_MIN <= len(refined) <= len(counts) // 4
    for ranked, prediction in refined:  # refined: the numbers a full run gives
        full_run = {p.strategy: p for p in choose(ranked.plan, "mean", 800, 0)}
        assert prediction.makespans.tolist() == full_run[prediction.strategy].makespans.tolist()
    depths = [len(r.best.makespans) for r in raced]
    assert depths == sorted(depths, reverse=True)  # the farther a candidate got, the earlier
    assert sorted(r.index for r in raced) == list(range(len(modules)))


def test_racing_drops_only_pairs_that_cannot_win() -> None:
    source = (ROOT / "examples" / "shop_fanout_details.agent").read_text()
    pages = {k: source.replace("min(8, len(listed))", f"min({k}, len(listed))") for k in (2, 16)}
    clear = [scheduled(text, PARALLEL)[0] for text in [pages[2]] + [pages[16]] * 24]
    raced = rank(clear, samples=1000)
    past_first = [(r.index, p) for r in raced for p in r.predictions if len(p.makespans) > 16]
    assert {index for index, _ in past_first} == {0}  # far below the quarter the rounds allow
    tied = [scheduled(text, PARALLEL)[0] for text in [source] * 5 + [pages[16]] * 20]
    raced = rank(tied, samples=1000)
    refined = {r.index for r in raced if len(r.best.makespans) == 1000}
    assert len(refined) >= 2 and refined <= set(range(5))  # copies tie; the slower never wins


def test_rank_names_what_is_wrong_with_its_arguments() -> None:
    module, _ = scheduled((ROOT / "examples" / "shop_cheapest.agent").read_text(), PARALLEL)
    with pytest.raises(TypeError, match="model must be a CostModel or None, not str"):
        rank([module], "p95")  # type: ignore[arg-type]  # the objective, passed as the model
    with pytest.raises(ValueError, match="objective must be one of mean, p50, p95, not 'p99'"):
        rank([module], objective="p99")
    with pytest.raises(ValueError, match="samples must be at least 1, not 0"):
        rank([module], samples=0)
