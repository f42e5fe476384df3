"""`canonicalize`: what it folds, what it must leave alone, and that behaviour is unchanged."""

from __future__ import annotations

import pathlib

import pytest

from agentjit import compile_file
from agentjit.ir import parse_ir, print_ir, verify
from agentjit.passes import PassManager
from tests.helpers import compile_dsl, run_outcome

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.agent"))


def canonicalize(module) -> str:
    PassManager.from_pipeline("canonicalize").run(module)
    return print_ir(module)


IR_IN = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: int, %tab: !tab):
    %0 = "dsl.const"() {value = 2} : () -> (int)
    %1 = "dsl.const"() {value = 3} : () -> (int)
    %2 = "dsl.mul"(%0, %1) : (int, int) -> (int)
    %3 = "dsl.add"(%x, %2) : (int, int) -> (int)
    %4 = "dsl.const"() {value = true} : () -> (bool)
    %5 = "ctl.if"(%4) ({
      "ctl.yield"(%3) : (int) -> ()
    }, {
      "ctl.yield"(%x) : (int) -> ()
    }) : (bool) -> (int)
    "func.return"(%5, %tab) : (int, !tab) -> ()
  }) {arg_names = ["x"], result_types = [int, !tab], sym_name = "main"} : () -> ()
}) {uses = []} : () -> ()
"""

IR_OUT = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%x: int, %tab: !tab):
    %0 = "dsl.const"() {value = 6} : () -> (int)
    %1 = "dsl.add"(%x, %0) : (int, int) -> (int)
    "func.return"(%1, %tab) : (int, !tab) -> ()
  }) {arg_names = ["x"], result_types = [int, !tab], sym_name = "main"} : () -> ()
}) {uses = []} : () -> ()
"""


def test_folds_constants_and_inlines_a_constant_if() -> None:
    module = parse_ir(IR_IN)
    assert canonicalize(module) == IR_OUT


def test_folds_builtins_and_strings() -> None:
    module = compile_dsl(
        """
        def main() -> str:
            xs = sorted([3, 1, 2], reverse=True)
            return upper("total: ") + str(sum(xs) + len(xs))
        """
    )
    text = canonicalize(module)
    assert 'value = "TOTAL: 9"' in text
    assert '"dsl.builtin"' not in text and '"dsl.add"' not in text


@pytest.mark.parametrize(
    "expr",
    ["1 // 0", "[1, 2][5]", "int('abc')", "len(range(100000000))", "'ab' * 100000000"],
)
def test_leaves_what_would_fail_or_explode_to_run_time(expr: str) -> None:
    module = compile_dsl(f"def main() -> any:\n    return {expr}\n")
    text = canonicalize(module)
    assert (
        '"dsl.builtin"' in text
        or '"dsl.floordiv"' in text
        or '"dsl.getitem"' in text
        or ('"dsl.mul"' in text)
    )


def test_never_touches_effects() -> None:
    module = compile_dsl(
        """
        use shop

        def main() -> str:
            go_home()
            x = llm("say {a}", a=1 + 1)
            assert 1 > 2, "always fails"
            return x
        """
    )
    text = canonicalize(module)
    assert text.count('"tool.call"') == 1 and '"llm.call"' in text and '"dsl.assert"' in text
    assert "value = 2" in text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_behaviour_is_preserved_on_every_example(path: pathlib.Path) -> None:
    module = compile_file(path).module
    before = run_outcome(module)
    text = canonicalize(module)
    verify(module)
    assert run_outcome(module) == before
    assert print_ir(parse_ir(text)) == text
