"""Sample-then-check grammar sampling (agentjit.localllm.sample_then_check) against the stock one.

Both run in this process on one SmolLM2-135M `Llama` (llm tier; skipped when the model is not
installed). With truncation off both must draw from the distribution the model's logits give
under a four-answer grammar (a chi-square goodness-of-fit test against the exact one), never leave
the grammar, and on the DSL grammar the first draw must be refused on a minority of steps only -
which is where the speed comes from.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from lark import Lark

from agentjit.frontend.gbnf import dsl_gbnf
from agentjit.localllm.models import DEFAULT_MODEL, MODELS
from agentjit.localllm.sample_then_check import SampleThenCheckSampler, checking
from agentjit.planner.prompt import extract_program
from tests.llm_fixtures import require_local_llm

pytestmark = pytest.mark.llm

ANSWERS = ("yes", "no", "maybe", "never")
CHOICE = "root ::= " + " | ".join(f'"{a}"' for a in ANSWERS)
PROMPT = "Is the sky green? Answer:"
UNTRUNCATED = {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "temperature": 1.0}
CHI2_0_999 = {1: 10.83, 2: 13.82, 3: 16.27}  # by degrees of freedom: one false alarm in 1,000


@pytest.fixture(scope="module")
def llama() -> Iterator[Any]:
    require_local_llm()
    from llama_cpp import Llama

    model = Llama(str(MODELS[DEFAULT_MODEL].locate()), n_ctx=2048, n_threads=1, verbose=False)
    yield model
    model.close()


def _answers(llama: Any, grammar: Any, n: int) -> collections.Counter[str]:
    """How often each first letter of an answer is drawn (one token: 100x faster than whole)."""
    counts: collections.Counter[str] = collections.Counter()
    for seed in range(n):
        reply = llama.create_completion(
            PROMPT, max_tokens=1, seed=seed, grammar=grammar, **UNTRUNCATED
        )
        counts[reply["choices"][0]["text"][:1]] += 1  # y, n or m: "n" may be "no" or "never"
    return counts


def _exact(llama: Any) -> dict[str, float]:
    """The first letter's distribution under the grammar, from the model's logits."""
    import llama_cpp

    llama.reset()
    llama.eval(llama.tokenize(PROMPT.encode()))
    row = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
    logits = np.ctypeslib.as_array(row, shape=(llama.n_vocab(),)).astype(np.float64)
    texts = {t: llama.detokenize([t]).decode(errors="replace") for t in range(llama.n_vocab())}
    allowed = [t for t, text in texts.items() if text and any(a.startswith(text) for a in ANSWERS)]
    weights = np.exp(logits[allowed] - logits[allowed].max())
    exact: collections.Counter[str] = collections.Counter()
    for token, weight in zip(allowed, weights / weights.sum(), strict=True):
        exact[texts[token][0]] += float(weight)
    return dict(exact)


def _chi_square(counts: collections.Counter[str], exact: dict[str, float]) -> tuple[float, int]:
    """Pearson's goodness-of-fit statistic and its degrees of freedom.

    Letters expected fewer than 10 times join the least likely other letter (the test needs
    counts).
    """
    n = sum(counts.values())
    letters = sorted(exact, key=exact.__getitem__, reverse=True)
    cells = [[counts[k], exact[k] * n] for k in letters if exact[k] * n >= 10]
    for k in letters[len(cells) :]:
        cells[-1][0] += counts[k]
        cells[-1][1] += exact[k] * n
    statistic = sum((observed - expected) ** 2 / expected for observed, expected in cells)
    return statistic, len(cells) - 1


def test_draws_from_the_same_distribution_as_the_stock_sampler(
    llama: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_cpp import Llama, LlamaGrammar

    grammar = LlamaGrammar.from_string(CHOICE, verbose=False)
    exact = _exact(llama)
    assert sum(p >= 0.05 for p in exact.values()) >= 2, exact  # else no test of the draw
    samples = {"stock": _answers(llama, grammar, 400)}
    monkeypatch.setattr(Llama, "_init_sampler", checking(Llama._init_sampler))
    samples["checked"] = _answers(llama, grammar, 400)
    assert isinstance(llama._sampler, SampleThenCheckSampler)
    for name, counts in samples.items():
        assert set(counts) <= set(exact), (name, counts)
        statistic, df = _chi_square(counts, exact)
        assert statistic < CHI2_0_999[df], (name, counts, exact)


def test_dsl_plans_parse_and_most_draws_need_no_resampling(
    llama: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_cpp import Llama, LlamaGrammar

    from agentjit.frontend.syntax import dsl_parser

    monkeypatch.setattr(Llama, "_init_sampler", checking(Llama._init_sampler))
    grammar = LlamaGrammar.from_string(dsl_gbnf(), verbose=False)
    prompt = "Write an agent program for the shop.\n```agent\n"
    parser: Lark = dsl_parser()
    checked = resampled = 0
    for seed in range(2):
        reply = llama.create_completion(
            prompt, max_tokens=200, seed=seed, grammar=grammar, temperature=0.8
        )
        choice = reply["choices"][0]
        sampler = llama._sampler
        checked, resampled = checked + sampler.checked, resampled + sampler.resampled
        if choice["finish_reason"] == "stop":
            parser.parse(extract_program("```agent\n" + choice["text"]) + "\n")
    assert checked > 0 and resampled < checked / 2, (resampled, checked)
