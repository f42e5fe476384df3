"""Builder: creates ops at an insertion point with the current source location.

    b = Builder.at_end(block)
    with b.location(loc):
        items = b.create(ToolCallOp, [tab], [list_t, TAB], {...}, names=["items", "tab"])

`create` inserts and returns the op; `insertion` and `location` are context managers that restore
the previous state on exit, so lowering code can nest freely.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from agentjit.ir.block import Block, Region
from agentjit.ir.location import UNKNOWN, Location
from agentjit.ir.operation import Operation
from agentjit.ir.types import Type
from agentjit.ir.value import Value

OpT = TypeVar("OpT", bound=Operation)


class Builder:
    """Inserts new ops at the end of a block (or before an anchor op) with a current location."""

    def __init__(self, block: Block, before: Operation | None = None) -> None:
        self.block = block
        self.before = before
        self.loc: Location = UNKNOWN

    @staticmethod
    def at_end(block: Block) -> Builder:
        return Builder(block)

    @staticmethod
    def before_op(op: Operation) -> Builder:
        if op.parent is None:
            raise ValueError(f"{op.name} is not in a block")
        return Builder(op.parent, op)

    def insert(self, op: OpT) -> OpT:
        if op.loc == UNKNOWN:
            op.loc = self.loc
        if self.before is None:
            self.block.append(op)
        else:
            self.block.insert_before(op, self.before)
        return op

    def create(
        self,
        cls: type[OpT],
        operands: Sequence[Value] = (),
        result_types: Sequence[Type] = (),
        attributes: dict[str, Any] | None = None,
        regions: Sequence[Region] = (),
        names: Sequence[str | None] | None = None,
    ) -> OpT:
        """Construct an op of class `cls` at the current location and insert it."""
        op = cls(operands, result_types, attributes, regions, self.loc, names)
        return self.insert(op)

    @contextmanager
    def insertion(self, block: Block, before: Operation | None = None) -> Iterator[Builder]:
        saved = (self.block, self.before)
        self.block, self.before = block, before
        try:
            yield self
        finally:
            self.block, self.before = saved

    @contextmanager
    def location(self, loc: Location) -> Iterator[Builder]:
        saved = self.loc
        self.loc = loc
        try:
            yield self
        finally:
            self.loc = saved
