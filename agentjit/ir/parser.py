"""Reads the generic textual IR written by `printer.py` back into ops.

Lark parses the text (grammar in `ir.lark`); a top-down walk then rebuilds the ops in order, so a
value is always defined before it is used and every reference resolves by name. Every error is a
`ParseError` located in the IR text: a syntax error says which tokens were expected; a semantic
one names the undefined value, the unknown op or type, or the operand type that disagrees with
the value's definition.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from agentjit.ir import ops as _ops  # noqa: F401  (registers the op classes)
from agentjit.ir.block import Block, Region
from agentjit.ir.diagnostics import ParseError, error
from agentjit.ir.location import SOURCES, UNKNOWN, Location
from agentjit.ir.operation import OP_REGISTRY, Operation
from agentjit.ir.types import PRIMS, TAB, DictType, ListType, RecordType, ResourceToken, Type
from agentjit.ir.value import Value


@cache
def _lark() -> Lark:
    return Lark.open("ir.lark", rel_to=__file__, parser="lalr", propagate_positions=True)


def _tok_loc(file: str, tok: Token | Tree) -> Location:
    meta = tok.meta if isinstance(tok, Tree) else tok
    line, col = getattr(meta, "line", 0) or 0, getattr(meta, "column", 0) or 0
    end_line = getattr(meta, "end_line", line) or line
    end_col = getattr(meta, "end_column", col + 1) or col + 1
    return Location(file, line, col, end_line, end_col)


class _Builder:
    """Walks the parse tree top-down, defining values as it meets them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.values: dict[str, Value] = {}
        self.records: dict[str, RecordType] = {}

    def string(self, tok: Token) -> str:
        """The value of a quoted string token (JSON escapes)."""
        try:
            return json.loads(tok)
        except json.JSONDecodeError as exc:
            raise self.fail(tok, f"bad string literal: {exc.msg}") from None

    def fail(self, node: Token | Tree, message: str, hint: str = "") -> ParseError:
        return ParseError(error("ir-syntax", message, _tok_loc(self.file, node), hint))

    # ---- types -------------------------------------------------------------------------------

    def record(self, tree: Tree) -> None:
        name_tok, *fields = tree.children
        parsed = tuple(
            (str(f.children[0]), self.type(f.children[1])) for f in fields if f is not None
        )
        self.records[name_tok[1:]] = RecordType(name_tok[1:], parsed)

    def type(self, tree: Tree) -> Type:
        name, arg = tree.children
        if tree.data == "bang_type":
            if name == "!tab" and arg is None:
                return TAB
            if name == "!res" and arg is not None:
                return ResourceToken(str(arg))
            record = self.records.get(name[1:])
            if record is None or arg is not None:
                raise self.fail(name, f"unknown type {name}", "declare records at the top")
            return record
        if arg is None and name in PRIMS:
            return PRIMS[name]
        if arg is not None and name in ("list", "dict"):
            inner = self.type(arg)
            return ListType(inner) if name == "list" else DictType(inner)
        raise self.fail(
            name,
            f"unknown type '{name}'",
            "expected str, int, float, bool, none, "
            "any, list<T>, dict<T>, !tab, !res<name> or a declared !Record",
        )

    def type_list(self, tree: Tree | None) -> list[Type]:
        return [self.type(t) for t in tree.children] if tree is not None else []

    # ---- attributes -------------------------------------------------------------------------

    def attr(self, tree: Tree | Token) -> Any:
        kind = tree.data if isinstance(tree, Tree) else None
        kids = tree.children if isinstance(tree, Tree) else []
        match kind:
            case "string":
                return self.string(kids[0])
            case "int":
                return int(kids[0])
            case "float":
                return float(kids[0])
            case "nan":
                return float("nan")
            case "true" | "false":
                return kind == "true"
            case "null":
                return None
            case "list":
                return [self.attr(k) for k in kids if k is not None]
            case "dict":
                return {self.string(e.children[0]): self.attr(e.children[1]) for e in kids if e}
            case "named_type" | "bang_type":
                return self.type(tree)
        raise self.fail(tree, f"unexpected attribute value {tree}")

    def attrs(self, tree: Tree | None) -> dict[str, Any]:
        if tree is None:
            return {}
        out: dict[str, Any] = {}
        for entry in tree.children:
            if entry is None:
                continue
            key = str(entry.children[0])
            if key in out:
                raise self.fail(entry, f"attribute '{key}' is given twice")
            out[key] = self.attr(entry.children[1])
        return out

    # ---- values, ops, regions ----------------------------------------------------------------

    def define(self, tok: Token, value: Value) -> None:
        name = tok[1:]
        if name in self.values:
            raise self.fail(tok, f"value %{name} is defined twice", "SSA values are defined once")
        self.values[name] = value
        value.name_hint = None if name.isdigit() else name

    def lookup(self, tok: Token) -> Value:
        value = self.values.get(tok[1:])
        if value is None:
            raise self.fail(tok, f"use of undefined value {tok}", "define a value before its use")
        return value

    def operation(self, tree: Tree) -> Operation:
        results, name_tok, operands, regions, attrs, ftype, loc = tree.children
        name = self.string(name_tok)
        cls = OP_REGISTRY.get(name)
        if cls is None:
            raise self.fail(name_tok, f"unknown operation {name_tok}")
        in_types, out_types = (self.type_list(t) for t in ftype.children)
        values = [self.lookup(t) for t in (operands.children if operands else [])]
        self.check_operand_types(name_tok, values, in_types)
        result_toks = results.children if results else []
        if len(result_toks) != len(out_types):
            raise self.fail(
                name_tok,
                f"{len(result_toks)} results named but {len(out_types)} result types given",
            )
        region_objs = [self.region(r) for r in (regions.children if regions else [])]
        op = cls(values, out_types, self.attrs(attrs), region_objs, self.location(loc))
        for tok, res in zip(result_toks, op.results, strict=True):
            self.define(tok, res)
        return op

    def check_operand_types(self, at: Token, values: list[Value], types: list[Type]) -> None:
        if len(values) != len(types):
            raise self.fail(at, f"{len(values)} operands but {len(types)} operand types")
        for i, (v, t) in enumerate(zip(values, types, strict=True)):
            if v.type != t:
                raise self.fail(at, f"operand {i} has type {v.type} but is declared as {t}")

    def region(self, tree: Tree) -> Region:
        header, *op_trees = tree.children
        block = Block()
        if header is not None:
            for arg in header.children[1:]:
                if arg is None:
                    continue
                value = block.add_arg(self.type(arg.children[1]))
                self.define(arg.children[0], value)
        for op_tree in op_trees:
            block.append(self.operation(op_tree))
        return Region([block])

    def location(self, tree: Tree | None) -> Location:
        if tree is None:
            return UNKNOWN
        file, *nums = tree.children
        line, col, end_line, end_col = (int(n) for n in nums)
        return Location(self.string(file), line, col, end_line, end_col)


def _syntax_error(exc: UnexpectedInput, file: str) -> ParseError:
    line, col = exc.line or 1, exc.column or 1
    loc = Location(file, line, col, line, col + 1)
    if isinstance(exc, UnexpectedToken | UnexpectedEOF):
        expected = sorted(getattr(exc, "expected", None) or getattr(exc, "accepts", None) or [])
        found = "end of input" if isinstance(exc, UnexpectedEOF) else repr(str(exc.token))
        msg = f"unexpected {found} in IR text"
    elif isinstance(exc, UnexpectedCharacters):
        expected = sorted(exc.allowed or [])
        msg = f"unexpected character {exc.char!r} in IR text"
    else:
        expected, msg = [], "IR text does not parse"
    return ParseError(error("ir-syntax", msg, loc, "expected one of: " + ", ".join(expected)))


MAX_DEPTH = 400
"""How deeply IR text may nest (regions, lists); deeper text is rejected, not recursed into."""


def first_too_deep(tree: Tree, limit: int) -> Tree | None:
    """The first node nested deeper than `limit` levels (None if none is), found without
    recursion, so absurdly deep trees are rejected before any recursive stage sees them."""
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        if level > limit:
            return node
        stack.extend((c, level + 1) for c in node.children if isinstance(c, Tree))
    return None


def _check_depth(tree: Tree, file: str) -> None:
    node = first_too_deep(tree, MAX_DEPTH)
    if node is not None:
        loc = _tok_loc(file, node)
        raise ParseError(error("ir-syntax", f"IR nested more than {MAX_DEPTH} levels", loc))


def parse_ir(text: str, file: str = "<ir>") -> Operation:
    """Parse textual IR into its top-level op (normally a `builtin.module`).

    Raises `ParseError` (located in `text`) on any syntax or reference error. The result is not
    verified; call `verify` for that.
    """
    SOURCES.add(file, text)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, file) from None
    _check_depth(tree, file)
    builder = _Builder(file)
    *records, top = tree.children
    for r in records:
        builder.record(r)
    return builder.operation(top)
