"""The LLM planner without a model: checking, the repair loop, contract feedback, ranking and
re-planning from an observed state, driven by `ScriptedClient` (a test double that returns
pre-written replies). The real model is exercised in tests/test_planner_llm.py."""

from __future__ import annotations

import asyncio

import pytest

from agentjit.planner.check import check_program, withhold_contract_details
from agentjit.planner.endpoint import Message
from agentjit.planner.plan import PlanSettings, plan_task
from agentjit.planner.prompt import (
    Situation,
    extract_program,
    plan_messages,
    site_examples,
    tools_text,
)
from agentjit.tools import load_site
from tests.scripted_llm import ScriptedClient

SHOP = load_site("shop")
TRACKER = load_site("tracker")

NO_PAGE = "use shop\ndef main() -> int:\n    return len(list_products())\n"
COUNT = 'use shop\ndef main(c: str = "Cables") -> int:\n    open_category(name=c)\n'
COUNT += "    return len(list_products())\n"
DETAILS = 'use shop\ndef main() -> list[str]:\n    open_category(name="Books")\n'
DETAILS += "    return [product_details(title=p.title).upc for p in list_products()]\n"


def fenced(program: str) -> str:
    return f"Here it is:\n```agent\n{program}```\nDone."


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def is_repair(messages: list[Message]) -> bool:
    return "The compiler rejected" in messages[-1]["content"]


# ---- checking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "stage"),
    [
        ("use shop\ndef main(:\n", "syntax"),
        ("use shop\ndef main() -> int:\n    return undefined_name\n", "types"),
        ("use tracker\ndef main() -> int:\n    return 1\n", "planner"),
        (
            "use shop\ndef main(c: str) -> int:\n    open_category(name=c)\n    return 1\n",
            "planner",
        ),
        (NO_PAGE, "contract"),
        (COUNT, "ok"),
    ],
)
def test_check_program_says_where_a_program_fails(program: str, stage: str) -> None:
    checked = check_program(program, "shop", "c.agent")
    assert checked.stage == stage
    assert checked.valid == (stage == "ok")
    assert all(d.loc.file == "c.agent" for d in checked.diagnostics)


def test_planner_rules_name_the_fix() -> None:
    site = check_program("use tracker\ndef main() -> int:\n    return 1\n", "shop", "c.agent")
    assert "use shop" in site.diagnostics[0].hint
    args = check_program(
        "use shop\ndef main(c: str) -> int:\n    return 1\n", "shop", "c.agent"
    ).diagnostics[0]
    assert args.code == "planner-main-args" and "c" in args.message and args.loc.line == 2


def test_observed_state_lets_a_plan_continue_a_live_tab() -> None:
    observed = {"shop": {"page": "category", "basket": "empty"}}
    assert check_program(NO_PAGE, "shop", "c.agent", observed=observed).valid
    home = check_program(NO_PAGE, "shop", "c.agent", observed={"shop": {"page": "home"}})
    assert home.stage == "contract"
    assert "observed when the previous plan stopped" in home.diagnostics[0].render()


def test_withheld_contract_feedback_keeps_no_location() -> None:
    diags = check_program(NO_PAGE, "shop", "c.agent").diagnostics
    withheld = withhold_contract_details(diags)
    assert [d.code for d in withheld] == ["contract"]
    assert not withheld[0].loc.known and "open_category" not in withheld[0].render()


# ---- prompt --------------------------------------------------------------------------------


@pytest.mark.parametrize("site", [SHOP, TRACKER], ids=["shop", "tracker"])
def test_prompt_shows_every_tool_and_valid_examples(site) -> None:  # type: ignore[no-untyped-def]
    text = tools_text(site)
    assert all(f"{name}(" in text for name in site.tools)
    examples = site_examples(site)
    assert len(examples) == 2
    for example in examples:
        assert check_program(example.program, site.name, "example.agent").valid, example.task


def test_prompt_prefix_is_the_same_for_every_task() -> None:
    """Only the last message differs, so a server's prompt cache serves the rest."""
    a = plan_messages(SHOP, "task one", site_examples(SHOP))
    b = plan_messages(SHOP, "task two", site_examples(SHOP))
    assert a[:-1] == b[:-1] and a[-1] != b[-1]


def test_situation_is_told_to_the_model() -> None:
    situation = Situation({"shop": {"page": "basket"}}, "contract-requires: page is 'home'")
    last = plan_messages(SHOP, "buy", (), situation)[-1]["content"]
    assert "page='basket'" in last and "contract-requires" in last


@pytest.mark.parametrize(
    ("reply", "program"),
    [
        (fenced(COUNT), COUNT),
        ("```\n" + COUNT + "```", COUNT),
        ("Sure! " + COUNT, COUNT),
        ("```agent\n" + COUNT, COUNT),  # cut off before the closing fence
    ],
)
def test_extract_program(reply: str, program: str) -> None:
    assert extract_program(reply) == program


# ---- the repair loop -----------------------------------------------------------------------


def test_repair_turns_an_invalid_candidate_valid() -> None:
    client = ScriptedClient([lambda m: fenced(COUNT) if is_repair(m) else fenced(NO_PAGE)] * 2)
    result = run(plan_task("count cables", SHOP, client, PlanSettings(k=1, grammar=False)))
    (candidate,) = result.candidates
    assert candidate.valid and not candidate.valid_first
    assert [a.checked.stage for a in candidate.attempts] == ["contract", "ok"]
    repair = client.sent[1][-1]["content"]
    assert "error[contract]" in repair and "list_products()" in repair and "^^^" in repair
    assert "call open_category first" in repair
    assert client.sent[1][-2]["content"].startswith("```agent\nuse shop")
    assert result.counts() == {"candidates": 1, "valid_first": 0, "valid": 1, "llm_calls": 2}
    assert result.stages(first=True) == {"contract": 1} and result.stages() == {"ok": 1}


def test_repair_rounds_are_bounded() -> None:
    client = ScriptedClient([], then=fenced(NO_PAGE))
    result = run(plan_task("x", SHOP, client, PlanSettings(k=2, rounds=2, grammar=False)))
    assert client.calls == 6
    assert all(len(c.attempts) == 3 and not c.valid for c in result.candidates)
    assert result.winner is None and result.ranked == []
    assert result.stages() == result.stages(first=True) == {"contract": 2}


def test_without_contract_feedback_the_model_hears_no_location() -> None:
    client = ScriptedClient([], then=fenced(NO_PAGE))
    settings = PlanSettings(k=1, rounds=1, grammar=False, contract_feedback=False)
    run(plan_task("x", SHOP, client, settings))
    repair = client.sent[1][-1]["content"]
    assert "does not allow it" in repair and "open_category first" not in repair


def test_candidates_get_distinct_seeds() -> None:
    client = ScriptedClient([], then=fenced(COUNT))
    run(plan_task("x", SHOP, client, PlanSettings(k=4, grammar=False)))
    assert len({r["seed"] for r in client.requests}) == 4


def test_cheapest_valid_candidate_wins_whatever_its_position() -> None:
    for order in ([DETAILS, COUNT, NO_PAGE], [COUNT, NO_PAGE, DETAILS]):
        client = ScriptedClient([fenced(p) for p in order], then=fenced(NO_PAGE))
        result = run(plan_task("x", SHOP, client, PlanSettings(k=3, rounds=0, grammar=False)))
        assert result.winner is not None and result.winner.program == COUNT
        means = [r.cost.best.mean for r in result.ranked]
        assert means == sorted(means) and len(means) == 2


def test_repeated_programs_are_ranked_once() -> None:
    replies = [fenced(p) for p in (COUNT, DETAILS, COUNT, COUNT, DETAILS)]
    client = ScriptedClient(replies, then=fenced(NO_PAGE))
    result = run(plan_task("x", SHOP, client, PlanSettings(k=5, rounds=0, grammar=False)))
    assert [r.candidate.index for r in result.ranked] == [0, 2, 3, 1, 4]
    copies = [r.cost for r in result.ranked if r.candidate.program == COUNT]
    assert all(cost is copies[0] for cost in copies)  # one simulation for the three copies
    assert result.winner is not None and result.winner.index == 0


def test_grammar_is_sent_when_asked() -> None:
    client = ScriptedClient([], then=fenced(COUNT))
    run(plan_task("x", SHOP, client, PlanSettings(k=1, grammar=True)))
    grammar = client.requests[0]["grammar"]
    assert grammar and "root" in grammar
    client = ScriptedClient([], then=fenced(COUNT))
    run(plan_task("x", SHOP, client, PlanSettings(k=1, grammar=False)))
    assert client.requests[0]["grammar"] is None


def test_replanning_checks_from_the_observed_state() -> None:
    situation = Situation({"shop": {"page": "category"}}, "stopped")
    client = ScriptedClient([], then=fenced(NO_PAGE))
    result = run(
        plan_task("x", SHOP, client, PlanSettings(k=1, grammar=False), situation=situation)
    )
    assert result.candidates[0].valid_first


# ---- the endpoint --------------------------------------------------------------------------


def test_endpoint_from_flags_and_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from agentjit.planner.endpoint import Endpoint

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AGENTJIT_LLM_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", "env-key")
    env = Endpoint.resolve()
    assert (env.base_url, env.model, env.api_key, env.grammar) == (
        "http://127.0.0.1:9/v1",
        "env-model",
        "env-key",
        False,
    )
    flags = Endpoint.resolve("http://127.0.0.1:8/v1", "flag-model", "k", grammar=True)
    assert (flags.base_url, flags.model, flags.grammar) == (
        "http://127.0.0.1:8/v1",
        "flag-model",
        True,
    )


def test_no_endpoint_says_how_to_get_one(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agentjit.planner.endpoint import Endpoint, EndpointError

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no record of a local server
    with pytest.raises(EndpointError, match="agentjit llm serve"):
        Endpoint.resolve()


def test_a_dead_endpoint_fails_fast() -> None:
    import socket

    from agentjit.planner.endpoint import Endpoint, EndpointError, OpenAiClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = OpenAiClient(Endpoint(f"http://127.0.0.1:{port}/v1", "m", first_token_s=5))
    with pytest.raises(EndpointError, match="failed"):
        run(client.complete([{"role": "user", "content": "hi"}]))


def test_a_silent_endpoint_times_out() -> None:
    """A server that accepts the request and never answers (written for this test) must not
    hang the planner: the first-token deadline turns it into an EndpointError."""
    from agentjit.planner.endpoint import Endpoint, EndpointError, OpenAiClient

    async def scenario() -> None:
        async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(65536)
            await asyncio.sleep(3600)

        server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        endpoint = Endpoint(f"http://127.0.0.1:{port}/v1", "m", first_token_s=0.5)
        try:
            with pytest.raises(EndpointError):
                # The outer bound only keeps a broken deadline from hanging the suite.
                request = OpenAiClient(endpoint).complete([{"role": "user", "content": "hi"}])
                await asyncio.wait_for(request, 60)
        finally:
            server.close()

    run(scenario())
