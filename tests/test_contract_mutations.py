"""`check-contracts` against the dynamic oracle on the mutation corpus (`bench/mutations.py`).

On a deterministic sample of the mutants: the valid originals raise no alarm (statically or
dynamically), and every mutant that violates a contract when run on `SiteModel` is rejected by
the static checker, including the cases that once slipped through (a title changed by a builtin,
a value that only may come from the tool). The full table: `python bench/contract_mutations.py`.
"""

from __future__ import annotations

import re
import sys
import textwrap
from functools import cache
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import contract_mutations as cm  # noqa: E402
import mutations  # noqa: E402

SAMPLE_SIZE = 300
SEEDS = cm.DEFAULT_SEEDS

TRANSFORMED = re.compile(r"\((?:title)=(?:upper|lower)\(")
"""bad_argument mutants passing a title through a value-changing builtin (a known hole)."""


@cache
def corpus() -> tuple[mutations.Mutant, ...]:
    return tuple(mutations.generate())


@cache
def sample() -> tuple[cm.Outcome, ...]:
    chosen = mutations.sample(list(corpus()), SAMPLE_SIZE)
    return tuple(cm.classify(m, SEEDS) for m in chosen)


def unsound(outcomes: tuple[cm.Outcome, ...] | list[cm.Outcome]) -> list[str]:
    return [
        f"{o.mutant.program} [{o.mutant.kind}] {o.mutant.description}: {o.dynamic}"
        for o in outcomes
        if o.unsound
    ]


# ---- the corpus -----------------------------------------------------------------------------


def test_corpus_is_large_distinct_labelled_and_deterministic() -> None:
    mutants = corpus()
    assert len(mutants) >= 1000
    assert {m.kind for m in mutants} == set(mutations.KINDS)
    originals = {p.source for p in mutations.site_programs()}
    sources = [m.source for m in mutants]
    assert len(set(sources)) == len(sources)
    assert not originals & set(sources)
    assert all(m.description for m in mutants)
    assert [m.source for m in mutations.generate()[:50]] == sources[:50]


def test_sample_is_spread_over_every_kind() -> None:
    kinds = {o.mutant.kind for o in sample()}
    assert kinds == set(mutations.KINDS)
    assert len(sample()) == SAMPLE_SIZE


# ---- no false alarms ------------------------------------------------------------------------


@pytest.mark.parametrize("original", cm.originals(), ids=lambda m: m.program)
def test_original_is_clean_statically_and_dynamically(original: mutations.Mutant) -> None:
    outcome = cm.classify(original, SEEDS)
    assert outcome.frontend is None
    assert outcome.static is None, f"false alarm: {outcome.static}"
    assert outcome.dynamic is None, f"the oracle rejects a valid example: {outcome.dynamic}"


# ---- soundness ------------------------------------------------------------------------------


def test_every_dynamic_violation_in_the_sample_is_caught_statically() -> None:
    outcomes = sample()
    violating = [o for o in outcomes if o.dynamic is not None]
    assert len(violating) >= 50, "the sample should exercise the oracle"
    assert unsound(outcomes) == []


def test_titles_changed_by_a_builtin_are_caught_statically() -> None:
    outcomes = [cm.classify(m, SEEDS) for m in corpus() if TRANSFORMED.search(m.description)]
    assert any(o.dynamic for o in outcomes)
    assert unsound(outcomes) == []


MAY_ORIGIN_PROGRAMS = {
    "conditional_fallback": """
        title = items[0].title if fresh else "Made-up product"
        """,
    "list_literal_item": """
        title = [items[0].title, "Made-up product"][1]
        """,
}


@pytest.mark.parametrize("name", sorted(MAY_ORIGIN_PROGRAMS))
def test_values_that_may_not_come_from_the_tool_are_caught_statically(name: str) -> None:
    body = textwrap.indent(textwrap.dedent(MAY_ORIGIN_PROGRAMS[name]).strip(), "    ")
    source = (
        "# a probe\nuse shop\n\ndef main(fresh: bool = False) -> str:\n"
        '    search(query="cable")\n    items = list_products()\n'
        '    if len(items) == 0:\n        return "none"\n'
        f"{body}\n    add_to_basket(title=title)\n    return title\n"
    )
    outcome = cm.classify(mutations.Mutant(name, "probe", name, source), SEEDS)
    assert outcome.frontend is None and outcome.dynamic is not None
    assert outcome.static is not None, f"accepted, but at run time: {outcome.dynamic}"
