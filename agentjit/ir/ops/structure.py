"""Structural ops: the module, functions, and the terminators that end their blocks."""

from __future__ import annotations

from agentjit.ir.block import Block
from agentjit.ir.operation import ANY_TYPE, Operation, attr, region, var_operand
from agentjit.ir.traits import IsolatedFromAbove, NoTerminator, Terminator
from agentjit.ir.types import Type
from agentjit.ir.value import Value


class ModuleOp(Operation):
    """The top level: a list of functions and the sites the program uses."""

    name = "builtin.module"
    uses = attr(list)
    body = region()
    traits = frozenset({IsolatedFromAbove, NoTerminator})

    @property
    def functions(self) -> list[FuncOp]:
        return [op for op in self.body.block.ops if isinstance(op, FuncOp)]

    def function(self, name: str) -> FuncOp | None:
        return next((f for f in self.functions if f.sym_name == name), None)


class FuncOp(Operation):
    """A function. Its entry block's arguments are the parameters, then the initial tokens."""

    name = "func.func"
    sym_name = attr(str)
    arg_names = attr(list)
    """Names of the DSL parameters, which are the first entry-block arguments."""
    result_types = attr(list)
    defaults = attr(dict, optional=True)
    """Literal default values of parameters, by name."""
    schedule = attr(dict, optional=True)
    """Set by the `schedule` pass: the chosen strategy and its predicted makespan."""
    start_state = attr(dict, optional=True)
    """`site` -> field -> value: the live tab this function continues (a re-plan after a
    failed run), instead of a fresh tab. Contract checks start from it."""
    body = region()
    traits = frozenset({IsolatedFromAbove})

    def verify_(self) -> None:
        names = self.arg_names
        if not all(isinstance(n, str) for n in names) or len(names) > len(self.body.block.args):
            raise ValueError("arg_names must name the leading entry-block arguments")
        unknown = set(self.defaults or {}) - set(names)
        if unknown:
            raise ValueError(f"defaults for unknown parameters: {', '.join(sorted(unknown))}")
        ret = self.body.block.terminator
        if not isinstance(ret, ReturnOp):
            return
        got = [v.type for v in ret.operands]
        want: list[Type] = list(self.result_types)
        if got != want:
            shown = ", ".join(map(str, got))
            raise ValueError(
                f"func.return yields ({shown}) but @{self.sym_name} declares "
                f"({', '.join(map(str, want))})"
            )


class ReturnOp(Operation):
    """Ends a function: its value, then the final state of every token."""

    name = "func.return"
    values = var_operand(ANY_TYPE)
    traits = frozenset({Terminator})

    def verify_(self) -> None:
        if not isinstance(self.parent and self.parent.parent_op, FuncOp):
            raise ValueError("func.return must end a func.func body")


def yielded_values(block: Block) -> tuple[Value, ...]:
    """The values a block's `ctl.yield` passes on (empty when it ends otherwise)."""
    term = block.terminator
    return term.operands if isinstance(term, YieldOp) else ()


class YieldOp(Operation):
    """Ends the body of a `ctl.for`, a branch of a `ctl.if`, or a `key=` lambda."""

    name = "ctl.yield"
    values = var_operand(ANY_TYPE)
    traits = frozenset({Terminator})

    def verify_(self) -> None:
        owner = self.parent.parent_op if self.parent else None
        if owner is None or owner.name not in ("ctl.for", "ctl.if", "dsl.builtin"):
            where = owner.name if owner else "no op"
            raise ValueError(f"ctl.yield must end a ctl.for, ctl.if or key= region, not {where}")
