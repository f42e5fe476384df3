"""The verifier rejects hand-broken IR with located, specific messages."""

from __future__ import annotations

import pytest

from agentjit.ir import (
    BINARY_OPS,
    INT,
    Builder,
    ConstantOp,
    IfOp,
    ToolCallOp,
    VerifyError,
    parse_ir,
    print_ir,
    verify,
)
from tests.helpers import compile_dsl

SHOP = """
use shop

def main(category: str) -> int:
    open_category(name=category)
    items = list_products()
    n = len(items)
    if n > 3:
        add_to_basket(title=items[0].title)
    return n
"""


def _codes(exc: VerifyError) -> list[str]:
    return [d.code for d in exc.diagnostics]


def _broken(mutate) -> VerifyError:
    module = compile_dsl(SHOP, "shop_test.agent")
    mutate(module)
    with pytest.raises(VerifyError) as info:
        verify(module)
    return info.value


def _first(module, cls):
    return next(op for op in module.walk() if isinstance(op, cls))


def test_valid_program_verifies() -> None:
    verify(compile_dsl(SHOP))


def test_use_before_definition() -> None:
    def move_len_first(module) -> None:
        length = next(op for op in module.walk() if getattr(op, "callee", None) == "len")
        block = length.parent
        block.remove(length)
        block.insert_before(length, block.ops[0])

    exc = _broken(move_len_first)
    assert "verify-dominance" in _codes(exc)
    diag = exc.diagnostics[0]
    assert "not defined before this use" in diag.message
    assert diag.loc.file == "shop_test.agent" and diag.loc.line == 6
    assert "<-- here" in diag.notes[0] and '"dsl.builtin"' in diag.notes[0]


def test_token_consumed_twice() -> None:
    def reuse_token(module) -> None:
        first, second = [op for op in module.walk() if isinstance(op, ToolCallOp)][:2]
        second.set_operand(len(second.operands) - 1, first.token_operands[0])

    exc = _broken(reuse_token)
    assert "verify-token" in _codes(exc)
    assert any("consumed 2 times" in d.message for d in exc.diagnostics)
    assert any("thread the token" in d.hint for d in exc.diagnostics)


def test_token_captured_by_a_region() -> None:
    def capture(module) -> None:
        branch_if = _first(module, IfOp)
        inner = _first(branch_if, ToolCallOp)
        outer_tab = branch_if.tokens[0]
        inner.set_operand(inner.operands.index(inner.token_operands[0]), outer_tab)

    exc = _broken(capture)
    assert any("outside the block that defines it" in d.message for d in exc.diagnostics)


def test_missing_terminator() -> None:
    exc = _broken(lambda m: m.functions[0].body.block.ops[-1].erase())
    assert "verify-terminator" in _codes(exc)
    assert "does not end with a terminator" in exc.diagnostics[0].message


def test_terminator_in_the_middle() -> None:
    def misplace(module) -> None:
        block = module.functions[0].body.block
        ret = block.ops[-1]
        block.remove(ret)
        block.insert_before(ret, block.ops[-1])

    exc = _broken(misplace)
    assert "verify-terminator" in _codes(exc)


def test_operand_type_rule() -> None:
    def add_str_to_int(module) -> None:
        func = module.functions[0]
        anchor = func.body.block.ops[-1]
        b = Builder.before_op(anchor)
        one = b.create(ConstantOp, [], [INT], {"value": 1})
        b.create(BINARY_OPS["-"], [func.body.block.args[0], one.out], [INT])

    exc = _broken(add_str_to_int)
    assert "verify-op" in _codes(exc)
    assert "unsupported operand types for -: str and int" in exc.diagnostics[0].message


def test_attribute_kind_and_missing_attribute() -> None:
    def corrupt(module) -> None:
        call = _first(module, ToolCallOp)
        call.attributes["tool"] = 3
        del call.attributes["args"]

    exc = _broken(corrupt)
    messages = " | ".join(d.message for d in exc.diagnostics)
    assert "attribute 'tool' of tool.call must be str" in messages
    assert "missing attribute 'args'" in messages


def test_wrong_operand_count() -> None:
    text = print_ir(compile_dsl("def main(x: int) -> int:\n    return x + 1\n"))
    broken = text.replace('"dsl.add"(%x, %0) : (int, int)', '"dsl.add"(%x) : (int)')
    with pytest.raises(VerifyError) as info:
        verify(parse_ir(broken))
    assert "dsl.add has 1 operands, expected 2" in info.value.diagnostics[0].message


def test_stale_use_list_entry() -> None:
    def corrupt(module) -> None:
        length = next(op for op in module.walk() if getattr(op, "callee", None) == "len")
        length._operands[0] = module.functions[0].body.block.args[0]

    exc = _broken(corrupt)
    assert "verify-uses" in _codes(exc)


def test_every_error_is_reported_at_once() -> None:
    def two_problems(module) -> None:
        call = _first(module, ToolCallOp)
        call.attributes["tool"] = 3
        module.functions[0].body.block.ops[-1].erase()

    exc = _broken(two_problems)
    assert {"verify-attribute", "verify-terminator"} <= set(_codes(exc))
    rendered = str(exc)
    assert "shop_test.agent:" in rendered and "^" in rendered
