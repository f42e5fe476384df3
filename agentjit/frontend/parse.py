"""DSL text -> typed AST.

`parse_program` runs the Lark parser (with syntax-error recovery, see `syntax.py`) and then a
bottom-up builder that turns its tree into `ast` nodes with locations (a plain recursive walk
calling one method per rule, like a Lark `Transformer` with `v_args(meta=True)`, without the
per-node wrapper objects that make that one slow). Constructs the grammar accepts only to
explain them well — attribute or item assignment, prefixed strings such as f-strings, `use` after
a `def` — are reported here as located diagnostics.
"""

from __future__ import annotations

import ast as py_ast
import re
import warnings
from typing import Any

from lark import Token, Tree
from lark.tree import Meta

from agentjit.frontend import ast
from agentjit.frontend.syntax import parse_tree
from agentjit.ir import SOURCES, Diagnostic, Location, ParseError, error
from agentjit.ir.parser import first_too_deep


def _loc(file: str, meta: Meta | Token) -> Location:
    if isinstance(meta, Meta) and getattr(meta, "empty", True):
        return Location(file, 1, 1, 1, 2)
    return Location(file, meta.line, meta.column, meta.end_line, meta.end_column)


MAX_NESTING = 100
"""How deep statements and expressions may nest (CPython stops at about the same depth)."""

_STRING_PREFIX_HINT = {
    "f": 'f-strings are not supported: use format("... {x} ...", x=...) or an llm template',
    "b": "byte strings are not supported",
}


class _ToAst:
    """Builds AST nodes bottom-up; collects diagnostics instead of stopping at the first.

    A method per grammar rule takes the node's meta and its children, already built; a rule
    without one stays a Lark `Tree` (as a `Transformer` would leave it)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    def transform(self, tree: Tree) -> Any:
        """The AST of `tree` (recursive: `parse_program` has bounded its depth first)."""
        kids = [self.transform(c) if isinstance(c, Tree) else c for c in tree.children]
        method = getattr(self, tree.data, None)
        if method is None:
            return Tree(tree.data, kids, tree.meta)
        return method(tree.meta, kids)

    def loc(self, meta: Meta | Token) -> Location:
        return _loc(self.file, meta)

    # ---- top level --------------------------------------------------------------------------

    def start(self, meta: Meta, items: list[Any]) -> ast.Program:
        uses: list[ast.Use] = []
        funcs: list[ast.FuncDef] = []
        for item in items:
            if isinstance(item, ast.Use):
                if funcs:
                    self.diagnostics.append(
                        error(
                            "syntax",
                            f"'use {item.site}' after a function definition",
                            item.loc,
                            "put every 'use SITE' line at the top of the file",
                        )
                    )
                uses.append(item)
            elif isinstance(item, ast.FuncDef):
                funcs.append(item)
        return ast.Program(self.loc(meta), self.file, tuple(uses), tuple(funcs))

    def use_stmt(self, meta: Meta, kids: list[Any]) -> ast.Use:
        return ast.Use(self.loc(meta), ".".join(str(k) for k in kids))

    def funcdef(self, meta: Meta, kids: list[Any]) -> ast.FuncDef:
        name, params, returns, body = kids
        return ast.FuncDef(self.loc(name), str(name), tuple(params or ()), returns, tuple(body))

    def params(self, meta: Meta, kids: list[Any]) -> list[ast.Param]:
        return [k for k in kids if k is not None]

    def param(self, meta: Meta, kids: list[Any]) -> ast.Param:
        name, type_, default = kids
        return ast.Param(self.loc(name), str(name), type_, default)

    def type(self, meta: Meta, kids: list[Any]) -> ast.TypeExpr:
        name, *args = kids
        return ast.TypeExpr(self.loc(meta), str(name), tuple(a for a in args if a is not None))

    def none_type(self, meta: Meta, kids: list[Any]) -> ast.TypeExpr:
        return ast.TypeExpr(self.loc(meta), "none")

    def suite(self, meta: Meta, kids: list[Any]) -> list[ast.Stmt]:
        return list(kids)

    # ---- statements -------------------------------------------------------------------------

    def assign(self, meta: Meta, kids: list[Any]) -> ast.Assign:
        return ast.Assign(self.loc(meta), str(kids[0]), kids[1])

    def attr_assign(self, meta: Meta, kids: list[Any]) -> ast.Stmt:
        self.diagnostics.append(
            error(
                "unsupported",
                "assignment to an attribute is not allowed",
                self.loc(meta),
                "DSL values are immutable: build a new value and assign it to a variable",
            )
        )
        return ast.Pass(self.loc(meta))

    def item_assign(self, meta: Meta, kids: list[Any]) -> ast.Stmt:
        self.diagnostics.append(
            error(
                "unsupported",
                "assignment to an item is not allowed",
                self.loc(meta),
                "DSL values are immutable: build a new list or dict instead",
            )
        )
        return ast.Pass(self.loc(meta))

    def aug_assign(self, meta: Meta, kids: list[Any]) -> ast.AugAssign:
        name, op, value = kids
        return ast.AugAssign(self.loc(meta), str(name), str(op)[0], value)

    def expr_stmt(self, meta: Meta, kids: list[Any]) -> ast.ExprStmt:
        return ast.ExprStmt(self.loc(meta), kids[0])

    def return_stmt(self, meta: Meta, kids: list[Any]) -> ast.Return:
        return ast.Return(self.loc(meta), kids[0])

    def assert_stmt(self, meta: Meta, kids: list[Any]) -> ast.Assert:
        return ast.Assert(self.loc(meta), kids[0], kids[1])

    def pass_stmt(self, meta: Meta, kids: list[Any]) -> ast.Pass:
        return ast.Pass(self.loc(meta))

    def if_stmt(self, meta: Meta, kids: list[Any]) -> ast.If:
        cond, body, *rest = kids
        orelse: tuple[ast.Stmt, ...] = tuple(rest[-1] or ())
        for clause in reversed(rest[:-1]):
            orelse = (ast.If(clause.loc, clause.cond, clause.body, orelse),)
        return ast.If(self.loc(meta), cond, tuple(body), orelse)

    def elif_clause(self, meta: Meta, kids: list[Any]) -> ast.If:
        return ast.If(self.loc(meta), kids[0], tuple(kids[1]), ())

    def for_stmt(self, meta: Meta, kids: list[Any]) -> ast.For:
        var, iterable, body = kids
        return ast.For(self.loc(meta), str(var), iterable, tuple(body))

    # ---- expressions ------------------------------------------------------------------------

    def ternary(self, meta: Meta, kids: list[Any]) -> ast.IfExp:
        then, cond, orelse = kids
        return ast.IfExp(self.loc(meta), cond, then, orelse)

    def lambdef(self, meta: Meta, kids: list[Any]) -> ast.Lambda:
        return ast.Lambda(self.loc(meta), str(kids[0]), kids[1])

    def _chain(self, meta: Meta, kids: list[Any], op: str) -> ast.Expr:
        out = kids[0]
        for rhs in kids[1:]:
            out = ast.BinOp(self.loc(meta), op, out, rhs)
        return out

    def or_test(self, meta: Meta, kids: list[Any]) -> ast.Expr:
        return self._chain(meta, kids, "or")

    def and_test(self, meta: Meta, kids: list[Any]) -> ast.Expr:
        return self._chain(meta, kids, "and")

    def not_(self, meta: Meta, kids: list[Any]) -> ast.UnaryOp:
        return ast.UnaryOp(self.loc(meta), "not", kids[0])

    def neg(self, meta: Meta, kids: list[Any]) -> ast.UnaryOp:
        return ast.UnaryOp(self.loc(meta), "-", kids[0])

    def pos(self, meta: Meta, kids: list[Any]) -> ast.Expr:
        return kids[0]

    def comparison(self, meta: Meta, kids: list[Any]) -> ast.Expr:
        """`a < b < c` becomes `(a < b) and (b < c)`; operands are pure or evaluated once each."""
        operands, ops = kids[0::2], kids[1::2]
        parts = [
            ast.BinOp(self.loc(meta), op, lhs, rhs)
            for op, lhs, rhs in zip(ops, operands, operands[1:], strict=False)
        ]
        return self._chain(meta, parts, "and") if len(parts) > 1 else parts[0]

    def comp_op(self, meta: Meta, kids: list[Any]) -> str:
        return " ".join(str(k) for k in kids)

    def add_op(self, meta: Meta, kids: list[Any]) -> str:
        return str(kids[0])

    mul_op = add_op

    def _binary_chain(self, meta: Meta, kids: list[Any]) -> ast.Expr:
        out = kids[0]
        for op, rhs in zip(kids[1::2], kids[2::2], strict=True):
            out = ast.BinOp(self.loc(meta), op, out, rhs)
        return out

    arith = _binary_chain
    term = _binary_chain

    def call(self, meta: Meta, kids: list[Any]) -> ast.Call:
        func, arguments = kids
        args = [a for a in arguments or () if not isinstance(a, ast.Keyword)]
        keywords = [a for a in arguments or () if isinstance(a, ast.Keyword)]
        seen_kw = False
        for a in arguments or ():
            if isinstance(a, ast.Keyword):
                seen_kw = True
            elif seen_kw:
                self.diagnostics.append(
                    error(
                        "syntax",
                        "positional argument after a keyword argument",
                        a.loc,
                        "put positional arguments first",
                    )
                )
        return ast.Call(self.loc(meta), func, tuple(args), tuple(keywords))

    def arguments(self, meta: Meta, kids: list[Any]) -> list[Any]:
        return [k for k in kids if k is not None]

    def kwarg(self, meta: Meta, kids: list[Any]) -> ast.Keyword:
        return ast.Keyword(self.loc(meta), str(kids[0]), kids[1])

    def getitem(self, meta: Meta, kids: list[Any]) -> ast.Subscript:
        return ast.Subscript(self.loc(meta), kids[0], kids[1])

    def getattr(self, meta: Meta, kids: list[Any]) -> ast.Attribute:
        return ast.Attribute(self.loc(meta), kids[0], str(kids[1]))

    def name(self, meta: Meta, kids: list[Any]) -> ast.Name:
        return ast.Name(self.loc(meta), str(kids[0]))

    def int_lit(self, meta: Meta, kids: list[Any]) -> ast.Const:
        return ast.Const(self.loc(meta), int(str(kids[0]).replace("_", "")))

    def float_lit(self, meta: Meta, kids: list[Any]) -> ast.Const:
        return ast.Const(self.loc(meta), float(str(kids[0]).replace("_", "")))

    def str_lit(self, meta: Meta, kids: list[Any]) -> ast.Const:
        text = str(kids[0])
        prefix = re.match(r"[A-Za-z]*", text).group()  # type: ignore[union-attr]
        if prefix and prefix.lower() != "r":
            key = "f" if "f" in prefix.lower() else "b" if "b" in prefix.lower() else ""
            hint = _STRING_PREFIX_HINT.get(key, 'only plain and r"raw" strings are supported')
            self.diagnostics.append(
                error(
                    "unsupported",
                    f"string prefix '{prefix}' is not supported",
                    self.loc(meta),
                    hint,
                )
            )
            return ast.Const(self.loc(meta), "")
        try:
            with warnings.catch_warnings():  # "\i" stays a backslash and an i, as in Python
                warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
                value = py_ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            self.diagnostics.append(error("syntax", f"bad string literal: {exc}", self.loc(meta)))
            value = ""
        return ast.Const(self.loc(meta), value)

    def true(self, meta: Meta, kids: list[Any]) -> ast.Const:
        return ast.Const(self.loc(meta), True)

    def false(self, meta: Meta, kids: list[Any]) -> ast.Const:
        return ast.Const(self.loc(meta), False)

    def none(self, meta: Meta, kids: list[Any]) -> ast.Const:
        return ast.Const(self.loc(meta), None)

    def list_lit(self, meta: Meta, kids: list[Any]) -> ast.ListExpr:
        return ast.ListExpr(self.loc(meta), tuple(k for k in kids if k is not None))

    def listcomp(self, meta: Meta, kids: list[Any]) -> ast.ListComp:
        elt, (var, iterable, cond) = kids
        return ast.ListComp(self.loc(meta), elt, str(var), _loc(self.file, var), iterable, cond)

    def comp_for(self, meta: Meta, kids: list[Any]) -> tuple[Token, ast.Expr, ast.Expr | None]:
        return kids[0], kids[1], kids[2]

    def dict_lit(self, meta: Meta, kids: list[Any]) -> ast.DictExpr:
        items = [k for k in kids if k is not None]
        return ast.DictExpr(self.loc(meta), tuple(k for k, _ in items), tuple(v for _, v in items))

    def dict_item(self, meta: Meta, kids: list[Any]) -> tuple[ast.Expr, ast.Expr]:
        return kids[0], kids[1]


def parse_program(text: str, file: str = "<input>") -> ast.Program:
    """Parse DSL text into an `ast.Program`; raise `ParseError` with every syntax problem found."""
    SOURCES.add(file, text)
    tree, diagnostics = parse_tree(text, file)
    if tree is None:
        raise ParseError(diagnostics)
    _check_tree_depth(tree, file)
    builder = _ToAst(file)
    program = builder.transform(tree)
    if builder.diagnostics:
        raise ParseError(builder.diagnostics)
    assert isinstance(program, ast.Program)
    levels, deepest = program.depth()
    if levels > MAX_NESTING:
        raise ParseError(_too_deep(deepest.loc))
    return program


def _too_deep(loc: Location) -> Diagnostic:
    return error(
        "too-deep",
        f"the program nests more than {MAX_NESTING} levels deep",
        loc,
        "split the expression into several assignments",
    )


def _check_tree_depth(tree: Tree, file: str) -> None:
    """Reject absurdly deep parse trees before any recursive stage sees them."""
    node = first_too_deep(tree, MAX_NESTING)
    if node is not None:
        raise ParseError(_too_deep(_loc(file, node.meta)))
