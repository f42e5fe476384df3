"""Lowering of DSL expressions to IR: names, literals, operators, calls and comprehensions.

Every expression lowers to one SSA value. Calls of site tools consume and produce the state
tokens in the env (effects as dataflow); `llm(...)` and builtins are pure. Type and name errors
become located diagnostics and the expression lowers to a placeholder of type `any`, so one
run reports every independent error. Statement lowering (`lower.py`) builds on this class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from agentjit.frontend import ast
from agentjit.frontend.lower_call import lower_call
from agentjit.frontend.scope import Env, Tools, channel_hint, channel_type
from agentjit.ir import (
    ANY,
    BINARY_OPS,
    BUILTINS,
    STR,
    UNARY_OPS,
    Block,
    Builder,
    Builtin,
    BuiltinCallOp,
    BuiltinTypeError,
    CastOp,
    ConstantOp,
    Diagnostic,
    DictOp,
    DictType,
    ForOp,
    GetAttrOp,
    GetItemOp,
    IfOp,
    ListOp,
    ListType,
    Location,
    OpResult,
    Region,
    Severity,
    Type,
    UndefOp,
    Value,
    YieldOp,
    error,
    is_assignable,
    join,
    suggest,
    type_of_constant,
)
from agentjit.ir.ops.values import field_type, item_type

BranchFn = Callable[[Env], Env]


class ExprLowerer:
    """Lowers expressions; holds the builder, the tool table and the diagnostics list."""

    def __init__(self, builder: Builder, tools: Tools) -> None:
        self.b = builder
        self.tools = tools
        self.diagnostics: list[Diagnostic] = []

    # ---- helpers ----------------------------------------------------------------------------

    def report(self, code: str, message: str, loc: Location, hint: str = "") -> None:
        self.diagnostics.append(error(code, message, loc, hint))

    def warn(self, code: str, message: str, loc: Location, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(code, message, loc, hint, Severity.WARNING))

    def const(self, value: object, loc: Location, type_: Type | None = None) -> Value:
        with self.b.location(loc):
            t = type_ or type_of_constant(value)
            return self.b.create(ConstantOp, [], [t], {"value": value}).out

    def undef(self, type_: Type = ANY) -> Value:
        return self.b.create(UndefOp, [], [type_]).out

    def cast(self, value: Value, type_: Type) -> Value:
        if value.type == type_:
            return value
        return self.b.create(CastOp, [value], [type_]).out

    def typed(self, fn: Callable[[], Type], loc: Location) -> Type:
        """Run a type rule; on `BuiltinTypeError` report it here and continue with `any`."""
        try:
            return fn()
        except BuiltinTypeError as exc:
            self.report("type-mismatch", str(exc), loc)
            return ANY

    # ---- dispatch ---------------------------------------------------------------------------

    def lower_expr(self, e: ast.Expr, env: Env) -> Value:
        """Lower one expression to the value it computes (a placeholder after an error)."""
        with self.b.location(e.loc):
            if isinstance(e, ast.Const):
                return self.const(e.value, e.loc)
            handler = self._HANDLERS.get(type(e))
            if handler is None:
                raise AssertionError(f"unhandled expression {type(e).__name__}")
            return handler(self, e, env)

    def lower_subscript(self, e: ast.Subscript, env: Env) -> Value:
        c, i = self.lower_expr(e.obj, env), self.lower_expr(e.index, env)
        t = self.typed(lambda: item_type(c.type, i.type), e.loc)
        return self.b.create(GetItemOp, [c, i], [t]).out

    def lower_lambda(self, e: ast.Lambda, env: Env) -> Value:
        self.report(
            "unsupported",
            "a lambda is only allowed as the key= argument of min, max or sorted",
            e.loc,
        )
        return self.undef()

    def lower_attribute(self, e: ast.Attribute, env: Env) -> Value:
        if (
            isinstance(e.obj, ast.Name)
            and e.obj.id in self.tools.sites
            and e.obj.id not in env.vars
        ):
            site = self.tools.sites[e.obj.id]
            if e.attr in site.tools:
                message = f"'{e.attr}' of site {site.name} is a tool: call it"
                hint = f"{site.name}.{e.attr}(...)"
            else:
                message = f"site {site.name} has no tool '{e.attr}'"
                hint = suggest(e.attr, list(site.tools)) or "tools: " + ", ".join(site.tools)
            self.report("undefined-name", message, e.loc, hint)
            return self.undef()
        v = self.lower_expr(e.obj, env)
        t = self.typed(lambda: field_type(v.type, e.attr), e.loc)
        return self.b.create(GetAttrOp, [v], [t], {"field": e.attr}).out

    def lower_unary(self, e: ast.UnaryOp, env: Env) -> Value:
        v = self.lower_expr(e.operand, env)
        cls = UNARY_OPS[e.op]
        t = self.typed(lambda: cls.infer(v.type), e.loc)
        return self.b.create(cls, [v], [t]).out

    def lower_name(self, e: ast.Name, env: Env) -> Value:
        if e.id in env.vars:
            return env.vars[e.id]
        if e.id in env.loop_locals:
            where = env.loop_locals[e.id]
            self.report(
                "undefined-name",
                f"'{e.id}' is only defined inside the loop at line {where.line}",
                e.loc,
                f"assign '{e.id}' before the loop if you need it afterwards",
            )
        elif e.id in env.branch_locals:
            where = env.branch_locals[e.id]
            self.report(
                "undefined-name",
                f"'{e.id}' may be undefined here: it is assigned on "
                f"only some branches of the if at line {where.line}",
                e.loc,
                f"assign '{e.id}' on every branch, or before the if",
            )
        elif e.id in ("break", "continue"):
            self.report(
                "unsupported",
                f"'{e.id}' is not supported",
                e.loc,
                "loops run over whole lists: filter first with "
                "[x for x in xs if ...], or use any()/all()",
            )
        elif e.id in self.tools.by_name or e.id in BUILTINS or e.id == "llm":
            self.report("undefined-name", f"'{e.id}' is a function: call it", e.loc, f"{e.id}(...)")
        else:
            names = [n for n in env.vars if not n.startswith("$")]
            self.report(
                "undefined-name",
                f"name '{e.id}' is not defined",
                e.loc,
                suggest(e.id, names) or "assign it before use",
            )
        return self.undef()

    def lower_list(self, e: ast.ListExpr, env: Env) -> Value:
        values, elem = self.unify([self.lower_expr(i, env) for i in e.items])
        return self.b.create(ListOp, values, [ListType(elem)]).out

    def lower_dict(self, e: ast.DictExpr, env: Env) -> Value:
        keys: list[str] = []
        for k in e.keys:
            if isinstance(k, ast.Const) and isinstance(k.value, str):
                keys.append(k.value)
            else:
                self.report("type-mismatch", "dict keys must be string literals", k.loc)
                keys.append("")
        values, vt = self.unify([self.lower_expr(v, env) for v in e.values])
        return self.b.create(DictOp, values, [DictType(vt)], {"keys": keys}).out

    def unify(self, values: list[Value]) -> tuple[list[Value], Type]:
        """The values cast to their common type (a container's element type), and that type."""
        common: Type | None = None
        for v in values:
            common = v.type if common is None else join(common, v.type)
        common = common or ANY
        return [self.cast(v, common) for v in values], common

    def lower_binop(self, e: ast.BinOp, env: Env) -> Value:
        if e.op in ("and", "or"):
            if _needs_guard(e.rhs):
                return self.lower_short_circuit(e, e.op, e.lhs, e.rhs, env)
            return self.apply_binop(e, self.lower_expr(e.lhs, env), e.rhs, env)
        spine = [e]  # walk a left-leaning chain (a + b + c ...) with a loop, not recursion
        while isinstance(spine[-1].lhs, ast.BinOp) and spine[-1].lhs.op not in ("and", "or"):
            spine.append(spine[-1].lhs)
        value = self.lower_expr(spine[-1].lhs, env)
        for node in reversed(spine):
            with self.b.location(node.loc):
                value = self.apply_binop(node, value, node.rhs, env)
        return value

    def apply_binop(self, e: ast.BinOp, left: Value, rhs: ast.Expr, env: Env) -> Value:
        """`left <op> rhs` where the left operand is already lowered."""
        right = self.lower_expr(rhs, env)
        cls = BINARY_OPS[e.op]
        t = self.typed(lambda: cls.infer(left.type, right.type), e.loc)
        if e.op in ("and", "or"):
            left, right = self.cast(left, t), self.cast(right, t)
        return self.b.create(cls, [left, right], [t]).out

    def lower_short_circuit(
        self, e: ast.Expr, op: str, lhs: ast.Expr, rhs: ast.Expr, env: Env
    ) -> Value:
        """`a and rhs` / `a or rhs`, evaluating `rhs` only when Python would: it may call a
        tool or the LLM, or fail (`len(xs) > 0 and xs[0] > 1`)."""
        left = self.lower_expr(lhs, env)

        def evaluate_rhs(branch: Env) -> Env:
            branch.vars["$value"] = self.lower_expr(rhs, branch)
            return branch

        def keep_lhs(branch: Env) -> Env:
            branch.vars["$value"] = left
            return branch

        then_fn, else_fn = (evaluate_rhs, keep_lhs) if op == "and" else (keep_lhs, evaluate_rhs)
        out = self.emit_if(left, env, [rhs], then_fn, else_fn, lambda a, b: ["$value"])
        return out["$value"]

    def lower_ifexp(self, e: ast.IfExp, env: Env) -> Value:
        cond = self.lower_expr(e.cond, env)

        def branch(expr: ast.Expr) -> BranchFn:
            def run(b_env: Env) -> Env:
                b_env.vars["$value"] = self.lower_expr(expr, b_env)
                return b_env

            return run

        out = self.emit_if(
            cond, env, [e.then, e.orelse], branch(e.then), branch(e.orelse), lambda a, b: ["$value"]
        )
        return out["$value"]

    # ---- structured control flow shared with statements -------------------------------------

    def emit_if(
        self,
        cond: Value,
        env: Env,
        nodes: Sequence[ast.Node],
        then_fn: BranchFn,
        else_fn: BranchFn,
        merged: Callable[[Env, Env], list[str]],
    ) -> dict[str, Value]:
        """Build a `ctl.if` whose branches run `then_fn`/`else_fn` in copies of `env`.

        The branches thread the tokens of every channel `nodes` touch; the if yields the names
        `merged(then_env, else_env)` picks (each must be bound in both branch envs), widened to a
        common type. `env` gets the new tokens and merged values, which are also returned.
        """
        channels = self.tools.channels_of(list(nodes))
        tokens = [env.tokens[c] for c in channels]
        envs: list[Env] = []
        blocks: list[Block] = []
        for fn in (then_fn, else_fn):
            block = Block([t.type for t in tokens], [channel_hint(c) for c in channels])
            branch = env.copy()
            branch.tokens.update(zip(channels, block.args, strict=True))
            with self.b.insertion(block):
                envs.append(fn(branch))
            blocks.append(block)
        names = merged(envs[0], envs[1])
        types = [_merge_type(envs[0].vars[n], envs[1].vars[n]) for n in names]
        for block, branch in zip(blocks, envs, strict=True):
            with self.b.insertion(block):
                values = [self.cast(branch.vars[n], t) for n, t in zip(names, types, strict=True)]
                self.b.create(YieldOp, [*values, *(branch.tokens[c] for c in channels)])
        result_types = [*types, *(channel_type(c) for c in channels)]
        hints = [n if not n.startswith("$") else None for n in names]
        hints += [channel_hint(c) for c in channels]
        op = self.b.create(
            IfOp,
            [cond, *tokens],
            result_types,
            {},
            [Region([blocks[0]]), Region([blocks[1]])],
            hints,
        )
        out = dict(zip(names, op.results, strict=False))
        env.tokens.update(zip(channels, op.results[len(names) :], strict=True))
        env.vars.update({n: v for n, v in out.items() if not n.startswith("$value")})
        return out

    def lower_listcomp(self, e: ast.ListComp, env: Env) -> Value:
        iterable = self.lower_expr(e.iter, env)
        elem = self.typed(lambda: iter_elem(iterable.type), e.iter.loc)
        channels = self.tools.channels_of([n for n in (e.elt, e.cond) if n is not None])
        inits = [env.tokens[c] for c in channels]
        body = Block([elem, *(t.type for t in inits)], [e.var, *map(channel_hint, channels)])
        inner = env.copy()
        inner.vars[e.var] = body.args[0]
        inner.tokens.update(zip(channels, body.args[1:], strict=True))
        with self.b.insertion(body):
            value, keep = self.comprehension_item(e, inner)
            extra = [keep] if keep is not None else []
            self.b.create(YieldOp, [*(inner.tokens[c] for c in channels), value, *extra])
        types = [*(t.type for t in inits), ListType(value.type)]
        attrs = {"collect": True, "filter": keep is not None}
        op = self.b.create(
            ForOp,
            [iterable, *inits],
            types,
            attrs,
            [Region([body])],
            [*map(channel_hint, channels), None],
        )
        env.tokens.update(zip(channels, op.results, strict=False))
        return op.results[-1]

    def comprehension_item(self, e: ast.ListComp, env: Env) -> tuple[Value, Value | None]:
        """The item to collect and the keep flag (None without a filter)."""
        if e.cond is None:
            return self.lower_expr(e.elt, env), None
        keep = self.lower_expr(e.cond, env)
        if not _needs_guard(e.elt):
            return self.lower_expr(e.elt, env), keep

        def take(branch: Env) -> Env:
            branch.vars["$value"] = self.lower_expr(e.elt, branch)
            return branch

        def skip(branch: Env) -> Env:
            branch.vars["$value"] = self.undef()
            return branch

        out = self.emit_if(keep, env, [e.elt], take, skip, lambda a, b: ["$value"])
        return out["$value"], keep

    # ---- calls ------------------------------------------------------------------------------

    def lower_call(self, e: ast.Call, env: Env) -> Value:
        return lower_call(self, e, env)

    def inline_call(self, fn: ast.FuncDef, e: ast.Call, env: Env) -> Value:
        """Lower a call of the program's own function `fn` (statement lowering provides it)."""
        raise NotImplementedError

    def lower_builtin_key(self, lam: ast.Expr, elem: Type, env: Env) -> Region | None:
        """The region of a `key=` lambda over items of type `elem`, or None after an error."""
        if not isinstance(lam, ast.Lambda):
            self.report(
                "type-mismatch", "key= expects a lambda, e.g. key=lambda p: p.price", lam.loc
            )
            return None
        if self.tools.channels_of([lam.body]) or _calls_llm(lam.body):
            self.report(
                "unsupported",
                "a key= lambda cannot call tools or llm",
                lam.loc,
                "compute the values in a list comprehension first",
            )
            return None
        block = Block([elem], [lam.param])
        inner = env.copy()
        inner.vars[lam.param] = block.args[0]
        with self.b.insertion(block), self.b.location(lam.loc):
            key = self.lower_expr(lam.body, inner)
            self.b.create(YieldOp, [key])
        return Region([block])

    def builtin_op(
        self,
        spec: Builtin,
        args: list[Value],
        kwargs: dict[str, Value],
        region: Region | None,
        loc: Location,
    ) -> Value:
        try:
            t = spec.type_rule([a.type for a in args], {k: v.type for k, v in kwargs.items()})
        except BuiltinTypeError as exc:
            self.report("type-mismatch", f"{spec.name}(): {exc}", loc, spec.doc)
            t = ANY
        op = self.b.create(
            BuiltinCallOp,
            [*args, *kwargs.values()],
            [t],
            {"callee": spec.name, "kwargs": list(kwargs)},
            [region] if region else [],
        )
        return op.out

    def check_arg(self, value: Value, want: Type, what: str, loc: Location) -> None:
        if not is_assignable(value.type, want):
            convertible = {str(want), str(value.type)} <= {"str", "int", "float", "bool"}
            hint = f"convert it with {want}(...)" if convertible else ""
            self.report("type-mismatch", f"{what} expects {want}, got {value.type}", loc, hint)

    _HANDLERS: ClassVar[dict[type, Callable[..., Value]]] = {
        ast.Name: lower_name,
        ast.ListExpr: lower_list,
        ast.DictExpr: lower_dict,
        ast.Attribute: lower_attribute,
        ast.Subscript: lower_subscript,
        ast.BinOp: lower_binop,
        ast.UnaryOp: lower_unary,
        ast.IfExp: lower_ifexp,
        ast.ListComp: lower_listcomp,
        ast.Call: lower_call,
        ast.Lambda: lower_lambda,
    }
    """Expression class -> lowering method (constants are handled inline)."""


def _merge_type(a: Value, b: Value) -> Type:
    """The type an if yields for a name bound to `a` and `b`; a placeholder takes the other's."""
    for placeholder, other in ((a, b), (b, a)):
        if isinstance(placeholder, OpResult) and isinstance(placeholder.op, UndefOp):
            placeholder.type = other.type
            return other.type
    return join(a.type, b.type)


def iter_elem(t: Type) -> Type:
    if isinstance(t, ListType):
        return t.elem
    if t == ANY:
        return ANY
    if t == STR:
        raise BuiltinTypeError("iterating over a str is not supported; use split(text)")
    raise BuiltinTypeError(f"can only iterate over a list, not {t}")


def _needs_guard(e: ast.Expr) -> bool:
    """Whether evaluating `e` for a filtered-out item could fail or cost (calls, arithmetic)."""
    return any(isinstance(n, ast.Call | ast.BinOp | ast.Subscript) for n in e.walk())


def _calls_llm(e: ast.Node) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "llm"
        for n in e.walk()
    )
