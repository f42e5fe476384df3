"""Typed AST of the agent DSL: one frozen dataclass per construct, each with its `loc`.

The AST decouples the grammar from IR emission: `parse.py` builds it from Lark's tree, `lower.py`
turns it into IR. Nodes hold only syntax; names are resolved and types checked during lowering.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

from agentjit.ir import Location

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
"""A node class's field names, in order (`dataclasses.fields` is slow to call per node)."""


@dataclass(frozen=True)
class Node:
    loc: Location

    def children(self) -> Iterator[Node]:
        """Direct child nodes, in source order."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        for name in names:
            value = getattr(self, name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                yield from (v for v in value if isinstance(v, Node))

    def walk(self) -> Iterator[Node]:
        """This node and all its descendants, pre-order (iterative: safe on deep trees)."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children())))

    def depth(self) -> tuple[int, Node]:
        """How deeply this tree nests, and a deepest node. The left operand of an arithmetic
        or comparison operator does not count as a level: `1 + 2 + ... + n` is flat, and
        lowering walks such chains with a loop."""
        deepest, best = self, 1
        stack: list[tuple[Node, int]] = [(self, 1)]
        while stack:
            node, level = stack.pop()
            if level > best:
                deepest, best = node, level
            for child in node.children():
                flat = (
                    isinstance(node, BinOp) and node.op not in ("and", "or") and child is node.lhs
                )
                stack.append((child, level if flat else level + 1))
        return best, deepest


# ---- expressions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr(Node):
    pass


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class Const(Expr):
    value: str | int | float | bool | None


@dataclass(frozen=True)
class ListExpr(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class DictExpr(Expr):
    keys: tuple[Expr, ...]
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class ListComp(Expr):
    elt: Expr
    var: str
    var_loc: Location
    iter: Expr
    cond: Expr | None


@dataclass(frozen=True)
class Attribute(Expr):
    obj: Expr
    attr: str


@dataclass(frozen=True)
class Subscript(Expr):
    obj: Expr
    index: Expr


@dataclass(frozen=True)
class Keyword(Node):
    name: str
    value: Expr


@dataclass(frozen=True)
class Call(Expr):
    func: Expr
    args: tuple[Expr, ...]
    keywords: tuple[Keyword, ...]


@dataclass(frozen=True)
class Lambda(Expr):
    param: str
    body: Expr


@dataclass(frozen=True)
class BinOp(Expr):
    """`lhs op rhs` for arithmetic, comparison (chains are expanded), `and`, `or`, `in`."""

    op: str
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True)
class IfExp(Expr):
    cond: Expr
    then: Expr
    orelse: Expr


# ---- statements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stmt(Node):
    pass


@dataclass(frozen=True)
class Assign(Stmt):
    target: str
    value: Expr


@dataclass(frozen=True)
class AugAssign(Stmt):
    target: str
    op: str
    value: Expr


@dataclass(frozen=True)
class ExprStmt(Stmt):
    value: Expr


@dataclass(frozen=True)
class Return(Stmt):
    value: Expr | None


@dataclass(frozen=True)
class Assert(Stmt):
    cond: Expr
    message: Expr | None


@dataclass(frozen=True)
class Pass(Stmt):
    pass


@dataclass(frozen=True)
class If(Stmt):
    cond: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]


@dataclass(frozen=True)
class For(Stmt):
    var: str
    iter: Expr
    body: tuple[Stmt, ...]


# ---- top level ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeExpr(Node):
    name: str
    args: tuple[TypeExpr, ...] = ()


@dataclass(frozen=True)
class Param(Node):
    name: str
    type: TypeExpr
    default: Expr | None


@dataclass(frozen=True)
class FuncDef(Node):
    name: str
    params: tuple[Param, ...]
    returns: TypeExpr | None
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Use(Node):
    site: str


@dataclass(frozen=True)
class Program(Node):
    file: str
    uses: tuple[Use, ...]
    funcs: tuple[FuncDef, ...] = field(default=())
