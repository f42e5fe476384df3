"""A transaction over IR edits, for passes that try a rewrite and keep it only if it checks.

    edit = Transaction()
    edit.insert_before(block, new_op, anchor)
    edit.replace_uses(old_value, new_value)
    if not acceptable(module):
        edit.rollback()          # the IR is exactly as before

Every change goes through the transaction (operand changes, inserted ops, attributes), which
logs how to undo it; `rollback` undoes the log in reverse.
"""

from __future__ import annotations

from typing import Any

from agentjit.ir import Block, Operation, Value

_MISSING = object()


class Transaction:
    """A log of IR edits that can be undone as a whole."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def set_operand(self, op: Operation, index: int, value: Value) -> None:
        self.log.append(("operand", op, index, op.operands[index]))
        op.set_operand(index, value)

    def replace_uses(self, old: Value, new: Value, keep: Operation | None = None) -> None:
        """Make every user of `old` (except `keep`) use `new` instead."""
        for use in list(old.uses):
            if use.op is not keep:
                self.set_operand(use.op, use.index, new)

    def insert_before(self, block: Block, op: Operation, anchor: Operation) -> Operation:
        block.insert_before(op, anchor)
        self.log.append(("insert", op))
        return op

    def set_attr(self, op: Operation, name: str, value: Any) -> None:
        self.log.append(("attr", op, name, op.attributes.get(name, _MISSING)))
        op.attributes[name] = value

    def rollback(self) -> None:
        """Undo every logged edit, newest first."""
        for entry in reversed(self.log):
            kind, op = entry[0], entry[1]
            if kind == "operand":
                op.set_operand(entry[2], entry[3])
            elif kind == "insert":
                op.erase()
            elif entry[3] is _MISSING:
                op.attributes.pop(entry[2], None)
            else:
                op.attributes[entry[2]] = entry[3]
        self.log.clear()


__all__ = ["Transaction"]
