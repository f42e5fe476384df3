"""Unit tests of the IR object model: use-lists, builder, erase, replace, traits, op specs."""

from __future__ import annotations

import pytest

from agentjit.ir import (
    BINARY_OPS,
    INT,
    STR,
    TAB,
    Block,
    Builder,
    ConstantOp,
    FuncOp,
    ModuleOp,
    Pure,
    Region,
    ReturnOp,
    ToolCallOp,
    Use,
    print_ir,
    verify,
)


def _module() -> tuple[ModuleOp, Block, Builder]:
    module = ModuleOp([], [], {"uses": []}, [Region([Block()])])
    body = Block([INT, TAB], ["n", "tab"])
    attrs = {"sym_name": "main", "arg_names": ["n"], "result_types": [INT, TAB]}
    Builder.at_end(module.body.block).create(FuncOp, [], [], attrs, [Region([body])])
    return module, body, Builder.at_end(body)


def test_use_lists_follow_operands() -> None:
    _module_op, body, b = _module()
    n = body.args[0]
    add = b.create(BINARY_OPS["+"], [n, n], [INT])
    assert set(n.uses) == {Use(add, 0), Use(add, 1)}
    one = b.create(ConstantOp, [], [INT], {"value": 1})
    add.set_operand(1, one.out)
    assert set(n.uses) == {Use(add, 0)}
    assert set(one.out.uses) == {Use(add, 1)}
    n.replace_all_uses_with(one.out)
    assert not n.has_uses
    assert add.operands == (one.out, one.out)


def test_erase_refuses_used_results_and_drops_uses() -> None:
    _module_op, body, b = _module()
    one = b.create(ConstantOp, [], [INT], {"value": 1})
    add = b.create(BINARY_OPS["+"], [one.out, one.out], [INT])
    with pytest.raises(ValueError, match="still used"):
        one.erase()
    add.erase()
    assert not one.out.has_uses
    one.erase()
    assert body.ops == []


def test_declared_accessors_and_traits() -> None:
    _module_op, body, b = _module()
    n = body.args[0]
    add = b.create(BINARY_OPS["+"], [n, n], [INT])
    assert add.lhs is n and add.rhs is n and add.out is add.results[0]
    assert add.has_trait(Pure)
    call = ToolCallOp(
        [n, body.args[1]],
        [STR, TAB],
        {"tool": "s.t", "args": ["x"], "effects": {"reads_page": True}},
    )
    assert call.data_operands == [n] and call.token_operands == [body.args[1]]
    assert call.declared_effects.touches_tab
    assert not call.has_trait(Pure)


def test_builder_location_and_insertion_points() -> None:
    from agentjit.ir import Location

    module, body, b = _module()
    loc = Location("f.agent", 3, 5, 3, 9)
    with b.location(loc):
        first = b.create(ConstantOp, [], [INT], {"value": 1})
    second = Builder.before_op(first).create(ConstantOp, [], [INT], {"value": 2})
    assert body.ops == [second, first]
    assert first.loc == loc
    b.create(ReturnOp, [first.out, body.args[1]])
    verify(module)
    assert 'loc("f.agent":3:5 to 3:9)' in print_ir(module)


def test_printer_names_are_unique_and_stable() -> None:
    module, body, b = _module()
    for _ in range(3):
        b.create(ConstantOp, [], [INT], {"value": 1}, names=["x"])
    b.create(ReturnOp, [body.args[0], body.args[1]])
    text = print_ir(module)
    assert "%x = " in text and "%x_1 = " in text and "%x_2 = " in text
