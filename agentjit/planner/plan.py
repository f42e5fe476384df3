"""Task sentence -> k candidate programs -> check and repair -> the cheapest valid plan.

    result = await plan_task("Buy the cheapest cable", site, client, PlanSettings(k=4))
    result.winner.program, result.ranked[0].cost.best.mean, result.counts()

Candidates are sampled concurrently (distinct seeds, so they differ even where the server is
deterministic); each is checked (`check.py`), and its located diagnostics go back to the model
for up to `rounds` repairs. Valid candidates are ranked by the cost model's simulator under the
strategies their IR allows; the best one wins. A server that runs one request at a time simply
queues them, which is what the latency numbers then show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentjit.cost.model import CostModel
from agentjit.cost.rank import Ranked, rank
from agentjit.ir import ModuleOp
from agentjit.planner.check import Checked, check_program, withhold_contract_details
from agentjit.planner.endpoint import Completion, LlmClient, Message
from agentjit.planner.prompt import (
    Situation,
    extract_program,
    plan_messages,
    repair_messages,
    site_examples,
)
from agentjit.tools.site import Site


@dataclass(frozen=True)
class PlanSettings:
    """How many candidates, how many repairs, how they are sampled and judged."""

    k: int = 4
    rounds: int = 3
    temperature: float = 0.8
    max_tokens: int = 400
    examples: int = 2
    grammar: bool = True
    """Constrain decoding by the DSL's GBNF where the endpoint supports it."""
    contract_feedback: bool = True
    """Send contract diagnostics back to the model (False: only that a contract failed)."""
    objective: str = "mean"
    samples: int = 1000
    max_tabs: int = 4
    seed: int = 0


@dataclass
class Attempt:
    """One model answer and what the checker made of it."""

    reply: Completion
    checked: Checked


@dataclass
class Candidate:
    """One sampled program and its repairs."""

    index: int
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def final(self) -> Checked | None:
        return self.attempts[-1].checked if self.attempts else None

    @property
    def valid(self) -> bool:
        return self.final is not None and self.final.valid

    @property
    def valid_first(self) -> bool:
        return bool(self.attempts) and self.attempts[0].checked.valid

    @property
    def program(self) -> str:
        return self.final.program if self.final else ""

    @property
    def module(self) -> ModuleOp | None:
        return self.final.module if self.final else None


@dataclass(frozen=True)
class RankedCandidate:
    """A valid candidate and the cost model's prediction for it."""

    candidate: Candidate
    cost: Ranked


@dataclass
class PlanResult:
    """Every candidate, the valid ones ranked, and what planning cost."""

    task: str
    site: str
    candidates: list[Candidate]
    ranked: list[RankedCandidate]
    """The valid candidates, cheapest first."""
    seconds: float
    llm_calls: int
    tokens: tuple[int, int]
    """Prompt and output tokens over all calls."""

    @property
    def winner(self) -> Candidate | None:
        return self.ranked[0].candidate if self.ranked else None

    def counts(self) -> dict[str, int]:
        return {
            "candidates": len(self.candidates),
            "valid_first": sum(c.valid_first for c in self.candidates),
            "valid": sum(c.valid for c in self.candidates),
            "llm_calls": self.llm_calls,
        }

    def stages(self, *, first: bool = False) -> dict[str, int]:
        """How many candidates ended (or, with `first`, started) at each check stage."""
        ends = [c.attempts[0 if first else -1].checked.stage for c in self.candidates if c.attempts]
        return {stage: ends.count(stage) for stage in sorted(set(ends))}


Progress = Callable[[str], None]


async def plan_task(
    task: str,
    site: Site,
    client: LlmClient,
    settings: PlanSettings | None = None,
    *,
    cost_model: CostModel | None = None,
    grammar: str | None = None,
    progress: Progress | None = None,
    situation: Situation | None = None,
) -> PlanResult:
    """Sample, check, repair and rank candidates for `task` on `site` (see module doc).

    With a `situation`, the plan continues a live tab: the prompt says where the previous plan
    stopped, and contracts are checked from the observed state.
    """
    settings = settings or PlanSettings()
    say = progress or (lambda _: None)
    if grammar is None and settings.grammar:
        from agentjit.frontend.gbnf import dsl_gbnf

        grammar = dsl_gbnf()
    started = time.perf_counter()
    examples = site_examples(site, settings.examples)
    messages = plan_messages(site, task, examples, situation)
    observed = situation.observed if situation else None
    runs = [
        _candidate(i, messages, site, client, settings, grammar, say, observed)
        for i in range(settings.k)
    ]
    candidates = list(await asyncio.gather(*runs))
    ranked = _rank(candidates, cost_model, settings)
    replies = [a.reply for c in candidates for a in c.attempts]
    tokens = (sum(r.prompt_tokens for r in replies), sum(r.output_tokens for r in replies))
    seconds = time.perf_counter() - started
    return PlanResult(task, site.name, candidates, ranked, seconds, len(replies), tokens)


async def _candidate(
    index: int,
    messages: list[Message],
    site: Site,
    client: LlmClient,
    settings: PlanSettings,
    grammar: str | None,
    say: Progress,
    observed: dict[str, dict[str, Any]] | None,
) -> Candidate:
    candidate = Candidate(index)
    history = messages
    for round_ in range(settings.rounds + 1):
        reply = await client.complete(
            history,
            grammar=grammar if settings.grammar else None,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            seed=settings.seed + 1000 * round_ + index,
        )
        program = extract_program(reply.text)
        file = f"candidate-{index}.agent" if round_ == 0 else f"candidate-{index}.r{round_}.agent"
        checked = check_program(program, site.name, file, settings.max_tabs, observed)
        candidate.attempts.append(Attempt(reply, checked))
        say(f"candidate {index} round {round_}: {checked.stage}")
        if checked.valid:
            break
        feedback = checked.diagnostics
        if not settings.contract_feedback:
            feedback = withhold_contract_details(feedback)
        history = repair_messages(messages, program, feedback)
    return candidate


def _rank(
    candidates: list[Candidate], model: CostModel | None, settings: PlanSettings
) -> list[RankedCandidate]:
    # Sampled programs often repeat one another word for word: each text is ranked once, and
    # its copies share the prediction (in candidate order, after the first).
    same_text: dict[str, list[Candidate]] = {}
    for c in candidates:
        if c.module is not None:
            same_text.setdefault(c.program, []).append(c)
    groups = list(same_text.values())
    if not groups:
        return []
    modules = [group[0].module for group in groups]
    ranked = rank(modules, model, settings.objective, settings.samples, settings.seed)
    return [RankedCandidate(c, r) for r in ranked for c in groups[r.index]]
