"""How many times a loop runs, as far as the program says: list lengths and small integers.

`range(8)` runs 8 times; `range(min(8, len(xs)))` at most 8 and as often as `xs` is long; a
loop over a comprehension's result as often as the comprehension did (the same sampled count,
not an independent one); a tool's list output as long as the cost model says that tool's lists
are. What the program does not say is left to the measured trip counts and the prior.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.cost.distributions import Distribution
from agentjit.cost.model import CostModel
from agentjit.ir import Operation
from agentjit.ir.ops import BuiltinCallOp, ConstantOp, ForOp, ListOp, ToolCallOp
from agentjit.ir.types import ListType
from agentjit.ir.value import Value

UNBOUNDED = 1 << 30


@dataclass(frozen=True)
class Length:
    """What is known of a list's length (or an int's value): a constant, the same count as a
    sampled trip event, or a distribution; with an upper bound in every case."""

    constant: int | None = None
    event: int = -1
    dist: Distribution | None = None
    cap: int = UNBOUNDED

    def at_most(self, bound: int) -> Length:
        if self.constant is not None:
            return Length(constant=min(self.constant, bound))
        return Length(None, self.event, self.dist, min(self.cap, bound))


UNKNOWN = Length()


class LengthOracle:
    """Records, op by op, what the program says about list lengths and integers."""

    def __init__(self, model: CostModel) -> None:
        self.model = model
        self.known: dict[Value, Length] = {}

    def of(self, value: Value) -> Length:
        return self.known.get(value, UNKNOWN)

    def note(self, op: Operation) -> None:
        """Learn from `op`'s results, if it is one of the ops lengths flow through."""
        if isinstance(op, ConstantOp) and type(op.value) is int:
            self.known[op.results[0]] = Length(constant=op.value)
        elif isinstance(op, ConstantOp) and isinstance(op.value, list):
            self.known[op.results[0]] = Length(constant=len(op.value))
        elif isinstance(op, ListOp):
            self.known[op.results[0]] = Length(constant=len(op.operands))
        elif isinstance(op, BuiltinCallOp):
            self._builtin(op)
        elif isinstance(op, ToolCallOp) and isinstance(op.output.type, ListType):
            self.known[op.output] = Length(dist=self.model.list_length(op.tool))

    def collected(self, op: ForOp, event: int, unroll: int) -> None:
        """A comprehension's result is as long as the loop ran (unless it filters)."""
        if op.filter:
            return
        self.known[op.collected] = (
            Length(constant=unroll) if event < 0 else Length(event=event, cap=unroll)
        )

    def pure_loop(self, op: ForOp) -> None:
        """A comprehension that takes no time is not unrolled; its result is as long as its
        input (unless it filters)."""
        if op.collect and not op.filter:
            self.known[op.collected] = self.of(op.iterable)

    def _builtin(self, op: BuiltinCallOp) -> None:
        args = op.positional
        if op.kwargs or not args:
            return
        if op.callee in ("len", "range") and len(args) == 1:
            found = self.of(args[0])
        elif op.callee == "min" and len(args) == 2:
            found = _smaller(self.of(args[0]), self.of(args[1]))
        else:
            return
        if found != UNKNOWN:
            self.known[op.out] = found


def _smaller(a: Length, b: Length) -> Length:
    """min(a, b) when one side is a constant; otherwise unknown."""
    if a.constant is not None and b.constant is not None:
        return Length(constant=min(a.constant, b.constant))
    if a.constant is not None and b != UNKNOWN:
        return b.at_most(a.constant)
    if b.constant is not None and a != UNKNOWN:
        return a.at_most(b.constant)
    if a.constant is not None or b.constant is not None:
        bound = a.constant if a.constant is not None else b.constant
        return Length(cap=bound)
    return UNKNOWN
