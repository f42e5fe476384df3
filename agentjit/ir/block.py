"""Blocks and regions: the containers of operations.

A `Region` belongs to an op and holds blocks; our structured control flow (`ctl.for`, `ctl.if`,
`func.func`) uses exactly one block per region. A `Block` holds typed arguments and an ordered
list of ops whose last op is a terminator. Ops know their parent block; blocks know their region;
regions know their op. Insert and remove ops only through these methods so the links stay right.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING

from agentjit.ir.types import Type
from agentjit.ir.value import BlockArgument

if TYPE_CHECKING:
    from agentjit.ir.operation import Operation


class Block:
    """A list of operations with typed arguments."""

    __slots__ = ("args", "ops", "parent")

    def __init__(self, arg_types: tuple[Type, ...] | list[Type] = (), arg_names=None) -> None:
        self.args: list[BlockArgument] = []
        self.ops: list[Operation] = []
        self.parent: Region | None = None
        names = list(arg_names or [None] * len(arg_types))
        for t, n in zip(arg_types, names, strict=True):
            self.add_arg(t, n)

    def add_arg(self, type: Type, name_hint: str | None = None) -> BlockArgument:
        arg = BlockArgument(type, self, len(self.args), name_hint)
        self.args.append(arg)
        return arg

    def append(self, op: Operation) -> Operation:
        self._adopt(op)
        self.ops.append(op)
        return op

    def insert_before(self, op: Operation, anchor: Operation) -> Operation:
        self._adopt(op)
        self.ops.insert(self._index(anchor), op)
        return op

    def insert_after(self, op: Operation, anchor: Operation) -> Operation:
        self._adopt(op)
        self.ops.insert(self._index(anchor) + 1, op)
        return op

    def remove(self, op: Operation) -> None:
        """Detach `op` from this block (its operands still count as uses; see `erase`)."""
        del self.ops[self._index(op)]
        op.parent = None

    @property
    def terminator(self) -> Operation | None:
        return self.ops[-1] if self.ops else None

    @property
    def parent_op(self) -> Operation | None:
        return self.parent.parent if self.parent else None

    def walk(self) -> Iterator[Operation]:
        """Every op in this block and, recursively, in the regions of those ops (pre-order)."""
        return walk_ops(iter(self.ops))

    def _adopt(self, op: Operation) -> None:
        if op.parent is not None:
            raise ValueError(f"{op.name} already belongs to a block; remove it first")
        op.parent = self

    def _index(self, op: Operation) -> int:
        # Ops compare by identity, so list.index finds this very op, at C speed.
        try:
            return self.ops.index(op)
        except ValueError:
            raise ValueError(f"{op.name} is not in this block") from None


class Region:
    """An ordered list of blocks owned by an operation."""

    __slots__ = ("blocks", "parent")

    def __init__(self, blocks: list[Block] | None = None) -> None:
        self.blocks: list[Block] = []
        self.parent: Operation | None = None
        for block in blocks or []:
            self.add_block(block)

    def add_block(self, block: Block) -> Block:
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def block(self) -> Block:
        """The single block of a structured region."""
        if len(self.blocks) != 1:
            raise ValueError(f"expected a single-block region, found {len(self.blocks)} blocks")
        return self.blocks[0]

    def walk(self) -> Iterator[Operation]:
        return walk_ops(chain.from_iterable(block.ops for block in self.blocks))


def walk_ops(ops: Iterator[Operation]) -> Iterator[Operation]:
    """`ops` and, recursively, the ops in their regions, pre-order. Lazy like nested loops over
    the live op lists, but with one generator however deep the nesting (a `yield from` chain
    would pass every op up through three frames per level)."""
    stack = [ops]
    while stack:
        for op in stack[-1]:
            yield op
            if op.regions:
                stack.append(nested_ops(op))
                break
        else:
            stack.pop()


def nested_ops(op: Operation) -> Iterator[Operation]:
    """The ops directly inside `op`'s regions, in order."""
    return chain.from_iterable(block.ops for region in op.regions for block in region.blocks)
