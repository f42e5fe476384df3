"""Structured control flow: `ctl.for`, `ctl.if`, and `dsl.assert`.

`ctl.for` works like MLIR's `scf.for` with iter_args. Operands: the list, then the initial
carried values (state tokens, and variables the body reassigns). The body block takes the item
and the carried values and yields the next carried values, then (with `collect`) the item of a
comprehension, then (with `filter`) whether to keep it. Results: the final carried values, then
(with `collect`) the collected list. After `parallelize`, a `max_tabs` attribute says the
iterations may run concurrently (see `ops/tabs.py` for when that is legal).

`ctl.if` passes tokens explicitly: its operands are the condition and the tokens the branches
may touch; each branch block takes those tokens as arguments and yields the if's results. Data
values are read from the enclosing scope directly; tokens never are, which keeps the "each token
used once" rule local to a block.
"""

from __future__ import annotations

from agentjit.ir.operation import (
    ANY_TYPE,
    Operation,
    attr,
    operand,
    region,
    var_operand,
    var_result,
)
from agentjit.ir.ops.structure import YieldOp
from agentjit.ir.ops.tabs import check_parallel_body
from agentjit.ir.traits import HasSideEffects
from agentjit.ir.types import ANY, BOOL, ListType, Type, is_assignable


def _types(values) -> list[Type]:
    return [v.type for v in values]


def _show(types: list[Type]) -> str:
    return "(" + ", ".join(map(str, types)) + ")"


def _yield_of(op: Operation, index: int) -> YieldOp:
    term = op.regions[index].block.terminator
    if not isinstance(term, YieldOp):
        raise ValueError(f"region {index} of {op.name} must end with ctl.yield")
    return term


class ForOp(Operation):
    """A loop over a finite list, with carried values and optional collection (comprehensions)."""

    name = "ctl.for"
    iterable = operand()
    init = var_operand(ANY_TYPE)
    collect = attr(bool)
    filter = attr(bool)
    max_tabs = attr(int, optional=True)
    """Set by `parallelize`: iterations may run concurrently, each on its own tab, at most
    this many at once. Legal only for bodies that `check_parallel_body` accepts."""
    outs = var_result(ANY_TYPE)
    body = region()

    @property
    def carried_results(self) -> list:
        return self.results[: len(self.init)]

    @property
    def collected(self):
        """The collected list of a comprehension, or None for a plain loop."""
        return self.results[-1] if self.collect else None

    def verify_(self) -> None:
        it = self.iterable.type
        if not (isinstance(it, ListType) or it == ANY):
            raise ValueError(f"ctl.for iterates over a list, not {it}")
        if self.filter and not self.collect:
            raise ValueError("filter=true needs collect=true")
        carried = _types(self.init)
        args = _types(self.body.block.args)
        elem = it.elem if isinstance(it, ListType) else ANY
        if args != [elem, *carried]:
            raise ValueError(f"body arguments {_show(args)} should be {_show([elem, *carried])}")
        yielded = _types(_yield_of(self, 0).values)
        extra = int(bool(self.collect)) + int(bool(self.filter))
        if yielded[: len(carried)] != carried or len(yielded) != len(carried) + extra:
            raise ValueError(f"body yields {_show(yielded)} but carries {_show(carried)}")
        if self.filter and not is_assignable(yielded[-1], BOOL):
            raise ValueError(f"the filter flag must be bool, not {yielded[-1]}")
        self._verify_results(carried, yielded)
        if self.attributes.get("max_tabs") is not None:
            if self.max_tabs < 1:
                raise ValueError(f"max_tabs must be at least 1, not {self.max_tabs}")
            check_parallel_body(list(self.body.block.args[1:]), _yield_of(self, 0).values)

    def _verify_results(self, carried: list[Type], yielded: list[Type]) -> None:
        want = list(carried)
        if self.collect:
            want.append(ListType(yielded[len(carried)]))
        if _types(self.results) != want:
            raise ValueError(f"results {_show(_types(self.results))} should be {_show(want)}")


class IfOp(Operation):
    """Two-way branch; both branches take the token operands and yield the results."""

    name = "ctl.if"
    cond = operand()
    tokens = var_operand(ANY_TYPE)
    outs = var_result(ANY_TYPE)
    then_region = region()
    else_region = region()

    def verify_(self) -> None:
        want_args = _types(self.tokens)
        for index, label in ((0, "then"), (1, "else")):
            block = self.regions[index].block
            if _types(block.args) != want_args:
                raise ValueError(
                    f"{label} branch takes {_show(_types(block.args))}, "
                    f"expected the token operands {_show(want_args)}"
                )
            yielded = _types(_yield_of(self, index).values)
            if len(yielded) != len(self.results) or not all(
                is_assignable(y, r.type) for y, r in zip(yielded, self.results, strict=False)
            ):
                raise ValueError(
                    f"{label} branch yields {_show(yielded)} but the if has results "
                    f"{_show(_types(self.results))}"
                )


class AssertOp(Operation):
    """Stops the run with `message` (an optional second operand) when `cond` is falsy."""

    name = "dsl.assert"
    cond = operand()
    message = var_operand()
    traits = frozenset({HasSideEffects})

    def verify_(self) -> None:
        if len(self.message) > 1:
            raise ValueError("dsl.assert takes at most one message operand")
