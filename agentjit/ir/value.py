"""SSA values and their use-lists.

A `Value` is defined exactly once, either as the result of an operation (`OpResult`) or as an
argument of a block (`BlockArgument`). Values hash by identity: two values are never the same,
whatever their names. `name_hint` is only a hint; the printer picks the final names.

Use-lists are ordered dicts of `Use(op, index)`, kept in sync by `Operation`'s operand setters,
`replace_all_uses_with` and `Operation.erase`. Never edit `uses` by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from agentjit.ir.types import Type

if TYPE_CHECKING:
    from agentjit.ir.block import Block
    from agentjit.ir.operation import Operation


class Use(NamedTuple):
    """Operand number `index` of `op` reads the value. A tuple: hashing and comparing it run in
    C (ops compare by identity), which matters because every operand edit touches a use-list."""

    op: Operation
    index: int


class Value:
    """An SSA value: a type, an optional name hint and the list of its uses."""

    __slots__ = ("name_hint", "type", "uses")

    def __init__(self, type: Type, name_hint: str | None = None) -> None:
        self.type = type
        self.name_hint = name_hint
        self.uses: dict[Use, None] = {}

    # Equality and hashing are object identity (`object`'s own, which run in C).

    @property
    def has_uses(self) -> bool:
        return bool(self.uses)

    @property
    def users(self) -> list[Operation]:
        """The operations that read this value, in use order, without duplicates."""
        seen: dict[int, Operation] = {}
        for use in self.uses:
            seen.setdefault(id(use.op), use.op)
        return list(seen.values())

    def replace_all_uses_with(self, new: Value) -> None:
        """Make every reader of this value read `new` instead."""
        for use in list(self.uses):
            use.op.set_operand(use.index, new)


class OpResult(Value):
    """Result number `index` of `op`."""

    __slots__ = ("index", "op")

    def __init__(self, type: Type, op: Operation, index: int, name_hint: str | None = None):
        super().__init__(type, name_hint)
        self.op = op
        self.index = index

    def __repr__(self) -> str:
        return f"<OpResult #{self.index} of {self.op.name}: {self.type}>"


class BlockArgument(Value):
    """Argument number `index` of `block`."""

    __slots__ = ("block", "index")

    def __init__(self, type: Type, block: Block, index: int, name_hint: str | None = None):
        super().__init__(type, name_hint)
        self.block = block
        self.index = index

    def __repr__(self) -> str:
        return f"<BlockArgument #{self.index}: {self.type}>"
