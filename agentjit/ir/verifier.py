"""The IR verifier: structure, declared op shapes, dominance, use-lists, types and tokens.

`verify(module)` checks everything and raises one `VerifyError` carrying a diagnostic per broken
invariant, each located at the op's source location and showing the op between its neighbours:

    error[verify-token]: token %tab is consumed twice (by tool.call and tool.call)
      note: in operation:
          %r, %tab_1 = "tool.call"(%tab) ...      <-- here
          %s, %tab_2 = "tool.call"(%tab) ...

Layers: (1) structure — links between ops, blocks and regions, one terminator at the end of each
block; (2) the op's declaration — operand/result counts and type constraints, attribute kinds,
region count; (3) SSA — every operand is defined before its use in an enclosing scope, never
across an `IsolatedFromAbove` boundary, and use-lists agree with operands; (4) tokens — each token
is consumed at most once and only in the block that defines it; (5) the op's own `verify_`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentjit.ir.block import Block
from agentjit.ir.diagnostics import Diagnostic, VerifyError
from agentjit.ir.operation import ANY_TYPE, Operation
from agentjit.ir.printer import Printer
from agentjit.ir.traits import IsolatedFromAbove, NoTerminator, Terminator
from agentjit.ir.types import Type
from agentjit.ir.value import Use, Value

MAX_ERRORS = 20


class _Verifier:
    def __init__(self, root: Operation) -> None:
        self.root = root
        self._printer: Printer | None = None
        self.diagnostics: list[Diagnostic] = []

    @property
    def printer(self) -> Printer:
        """Value names for messages; built only when there is something to report."""
        if self._printer is None:
            self._printer = Printer(self.root)
        return self._printer

    def fail(self, op: Operation, code: str, message: str, hint: str = "") -> None:
        if len(self.diagnostics) < MAX_ERRORS:
            context = self.context(op)
            self.diagnostics.append(
                Diagnostic(f"verify-{code}", message, op.loc, hint, notes=(context,))
            )

    def context(self, op: Operation) -> str:
        """The op between its neighbours, marked, as shown under every verifier error."""
        siblings = op.parent.ops if op.parent else [op]
        index = next(i for i, s in enumerate(siblings) if s is op)
        lines = ["in operation:"]
        for s in siblings[max(0, index - 1) : index + 2]:
            mark = "      <-- here" if s is op else ""
            lines.append(f"    {self.printer.op_summary(s)}{mark}")
        return "\n".join(lines)

    def run(self) -> list[Diagnostic]:
        self.check_op(self.root, visible=set())
        return self.diagnostics

    # ---- per op ----------------------------------------------------------------------------

    def check_op(self, op: Operation, visible: set[Value]) -> None:
        self.check_operands(op, visible)
        self.check_declaration(op)
        inner = set() if op.has_trait(IsolatedFromAbove) else visible
        for region in op.regions:
            if region.parent is not op:
                self.fail(op, "structure", "a region's parent link does not point at its op")
            for block in region.blocks:
                self.check_block(block, op, inner)
        try:
            op.verify_()
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            self.fail(op, "op", f"{op.name}: {exc}")
        except Exception as exc:  # an op hook that crashes on malformed IR is still an IR error
            self.fail(op, "op", f"{op.name}: {type(exc).__name__}: {exc}")

    def check_block(self, block: Block, owner: Operation, visible: set[Value]) -> None:
        """Check `block`, with `visible` the values its ops may use. What the block defines is
        added while it is checked and taken out after (one set for the whole walk: copying it
        per region would make verification quadratic in nesting times size)."""
        added = [v for v in block.args if v not in visible]
        visible.update(added)
        try:
            self._check_block_ops(block, owner, visible, added)
        finally:
            visible.difference_update(added)

    def _check_block_ops(
        self, block: Block, owner: Operation, visible: set[Value], added: list[Value]
    ) -> None:
        for i, op in enumerate(block.ops):
            if op.parent is not block:
                self.fail(op, "structure", f"{op.name}'s parent link does not point at its block")
            is_last = i == len(block.ops) - 1
            if op.has_trait(Terminator) and not is_last:
                self.fail(
                    op, "terminator", f"{op.name} is a terminator but is not last in its block"
                )
            self.check_op(op, visible)
            fresh = [r for r in op.results if r not in visible]
            visible.update(fresh)
            added.extend(fresh)
        self.check_tokens_of_block(block)
        last = block.terminator
        if not owner.has_trait(NoTerminator) and (last is None or not last.has_trait(Terminator)):
            anchor = last or owner
            self.fail(
                anchor,
                "terminator",
                f"a block of {owner.name} does not end with a terminator",
                "end the block with ctl.yield or func.return",
            )

    def check_operands(self, op: Operation, visible: set[Value]) -> None:
        for i, value in enumerate(op._operands):
            if value not in visible:
                name = self.printer.names[value]
                self.fail(
                    op,
                    "dominance",
                    f"operand {i} ({name}) of {op.name} is not defined before this use",
                    "a value must be defined earlier in the same block or an enclosing one",
                )
            if Use(op, i) not in value.uses:
                name = self.printer.names[value]
                self.fail(
                    op, "uses", f"operand {i} ({name}) of {op.name} is missing its use-list entry"
                )

    def check_declaration(self, op: Operation) -> None:
        cls = type(op)
        shape = _SHAPES.get(cls) or _shape_of(cls)
        self.check_group(op, "operand", shape.operands, op._operands)
        self.check_group(op, "result", shape.results, op.results)
        for d in cls.attr_defs:
            if d.name not in op.attributes:
                if not d.optional:
                    self.fail(op, "attribute", f"{op.name} is missing attribute '{d.name}'")
                continue
            value = op.attributes[d.name]
            wrong_bool = isinstance(value, bool) and bool not in d.kinds
            if not isinstance(value, d.kinds) or wrong_bool:
                kinds = " or ".join(k.__name__ for k in d.kinds)
                self.fail(op, "attribute", f"attribute '{d.name}' of {op.name} must be {kinds}")
        want = shape.regions
        if want >= 0 and len(op.regions) != want:
            self.fail(op, "structure", f"{op.name} has {len(op.regions)} regions, expected {want}")

    def check_group(self, op: Operation, what: str, group: _Group, values: Sequence[Value]) -> None:
        defs, fixed, has_var = group
        if not has_var and len(values) == fixed:  # the common case: one value per def
            for d, v in zip(defs, values, strict=True):
                if d.constraint is not ANY_TYPE and not d.constraint.accepts(v.type):
                    self.type_error(op, what, d, v.type)
            return
        if len(values) < fixed or not has_var:
            exact = "at least " if has_var else ""
            self.fail(op, "shape", f"{op.name} has {len(values)} {what}s, expected {exact}{fixed}")
            return
        var_len = len(values) - fixed
        start = 0
        for d in defs:  # the same layout as Operation.segment, in one pass
            stop = start + (var_len if d.variadic else 1)
            for v in values[start:stop]:
                if not d.constraint.accepts(v.type):
                    self.type_error(op, what, d, v.type)
            start = stop

    def type_error(self, op: Operation, what: str, d: Any, t: Type) -> None:
        self.fail(
            op,
            "type",
            f"{what} '{d.name}' of {op.name} has type {t}, expected {d.constraint.description}",
        )

    # ---- SSA bookkeeping and tokens -------------------------------------------------------

    def check_tokens_of_block(self, block: Block) -> None:
        defined: list[Value] = list(block.args)
        for op in block.ops:
            defined.extend(op.results)
        for value in defined:
            self.check_uses_agree(value)
            if value.type.is_token:
                self.check_token(value, block)

    def check_uses_agree(self, value: Value) -> None:
        for use in value.uses:
            ops = use.op.operands
            if use.index >= len(ops) or ops[use.index] is not value:
                self.fail(use.op, "uses", f"a stale use-list entry points at {use.op.name}")

    def check_token(self, token: Value, block: Block) -> None:
        users = [u.op for u in token.uses]
        if len(users) > 1:
            name = self.printer.names[token]
            self.fail(
                users[1],
                "token",
                f"token {name} is consumed {len(users)} times "
                f"(by {', '.join(u.name for u in users)})",
                "thread the token: each op that touches the tab or resource consumes the "
                "token the previous one produced",
            )
        for user in users:
            if user.parent is not block:
                name = self.printer.names[token]
                self.fail(
                    user,
                    "token",
                    f"token {name} is used outside the block that defines it",
                    "pass tokens into regions as operands and block arguments, not by capture",
                )


_Group = tuple[tuple[Any, ...], int, bool]
"""An operand or result group's defs, how many of them are fixed, and whether one is variadic."""


@dataclass(frozen=True)
class _Shape:
    """What `check_declaration` needs of an op class, derived once per class."""

    operands: _Group
    results: _Group
    regions: int
    """The region count, or -1 when it varies."""


_SHAPES: dict[type[Operation], _Shape] = {}


def _group(defs: tuple[Any, ...]) -> _Group:
    fixed = sum(1 for d in defs if not d.variadic)
    return defs, fixed, fixed != len(defs)


def _shape_of(cls: type[Operation]) -> _Shape:
    regions = -1 if cls.variadic_regions else len(cls.region_defs)
    shape = _Shape(_group(cls.operand_defs), _group(cls.result_defs), regions)
    _SHAPES[cls] = shape
    return shape


def verify(root: Operation) -> None:
    """Raise `VerifyError` with every broken invariant of `root`; return None when it verifies."""
    diagnostics = _Verifier(root).run()
    if diagnostics:
        raise VerifyError(diagnostics)


def verify_diagnostics(root: Operation) -> list[Diagnostic]:
    """The verifier's findings as a list (empty when the IR verifies)."""
    return _Verifier(root).run()
