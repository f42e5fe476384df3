"""The planner against a real model: SmolLM2-135M on a local llama.cpp server, its decoding
constrained by the GBNF generated from our Lark grammar. The model is tiny, so the tests check
the machinery, not plan quality: every candidate parses, repairs are asked for and answered,
and the cheapest valid candidate (if any) is ranked."""

from __future__ import annotations

import asyncio

import pytest

from agentjit.frontend.gbnf import dsl_gbnf
from agentjit.localllm import LocalLlmServer
from agentjit.planner.endpoint import Endpoint, OpenAiClient
from agentjit.planner.plan import PlanSettings, plan_task
from agentjit.tools import load_site
from tests.llm_fixtures import local_llm  # noqa: F401

pytestmark = pytest.mark.llm

# Two statements, no nesting: short answers keep the test to seconds on a small CPU.
SMALL = dsl_gbnf(max_depth=1, max_statements=2)


def endpoint(server: LocalLlmServer) -> Endpoint:
    return Endpoint(server.base_url, server.model, grammar=True, concurrency=1)


def test_constrained_candidates_parse_unless_cut_off(local_llm: LocalLlmServer) -> None:  # noqa: F811
    settings = PlanSettings(k=1, rounds=1, max_tokens=150, samples=200)
    client = OpenAiClient(endpoint(local_llm))
    task = "Return the titles of the products in the Books category"
    result = asyncio.run(plan_task(task, load_site("shop"), client, settings, grammar=SMALL))
    attempts = [a for c in result.candidates for a in c.attempts]
    # The grammar cannot make a model stop: an answer cut at max_tokens may end mid-statement.
    whole = [a for a in attempts if a.reply.finish_reason != "length"]
    assert all(a.checked.stage != "syntax" for a in whole), [a.checked.program for a in whole]
    for candidate in result.candidates:
        # A candidate stops at its first valid program, or runs out of repair rounds.
        assert candidate.valid or len(candidate.attempts) == settings.rounds + 1
    assert result.llm_calls == len(attempts) == client.calls
    assert all(r.candidate.valid for r in result.ranked)


def test_unconstrained_replies_are_still_checked(local_llm: LocalLlmServer) -> None:  # noqa: F811
    settings = PlanSettings(k=1, rounds=0, max_tokens=120, grammar=False, samples=200)
    client = OpenAiClient(endpoint(local_llm))
    result = asyncio.run(
        plan_task("Count the open tickets", load_site("tracker"), client, settings)
    )
    (candidate,) = result.candidates
    assert candidate.final is not None
    assert candidate.valid or candidate.final.diagnostics  # never silently accepted
