"""AST -> IR: statements, functions and the module.

SSA construction for structured code: straight-line assignments rebind names in the env; an `if`
becomes a `ctl.if` that yields every variable either branch reassigns; a `for` becomes a
`ctl.for` carrying the tokens its body touches and the variables it reassigns (their types are
widened until stable, so `total = 0; total = total + price` carries a float).

`return` may appear at the end of the function or inside `if` branches: the statements after an
`if` that returns on some path are moved into its branches that fall through, so every function
ends in exactly one `func.return`. A `return` inside a loop is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agentjit.frontend import ast
from agentjit.frontend.lower_expr import ExprLowerer, iter_elem
from agentjit.frontend.scope import (
    RETURN,
    TAB_CHANNEL,
    Env,
    Tools,
    assigned_names,
    channel_hint,
    channel_type,
    resolve_type,
)
from agentjit.ir import (
    ANY,
    NONE,
    AssertOp,
    Block,
    Builder,
    CompilerError,
    Diagnostic,
    ForOp,
    FuncOp,
    ModuleOp,
    ParseError,
    Region,
    ReturnOp,
    Severity,
    SiteSignature,
    Type,
    Value,
    YieldOp,
    error,
    is_assignable,
    join,
    suggest,
    type_of_constant,
)

SiteResolver = Callable[[str], SiteSignature | None]
MAX_WIDENING_ROUNDS = 4
MAX_BLOCK_DEPTH = 100
"""How deeply lowering may nest blocks (ifs, loops, early-return continuations, inlined calls)."""
MAX_INLINED_CALLS = 2_000
"""How many calls of the program's own functions one compilation may inline."""


def ends_with_return(stmts: tuple[ast.Stmt, ...]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    return (
        isinstance(last, ast.If) and ends_with_return(last.body) and ends_with_return(last.orelse)
    )


def returns_somewhere(stmt: ast.Stmt) -> bool:
    return any(isinstance(n, ast.Return) for n in stmt.walk())


def push_continuation(stmt: ast.If, rest: tuple[ast.Stmt, ...]) -> ast.If:
    """`if` with the statements after it appended to each branch that falls through."""
    body = stmt.body if ends_with_return(stmt.body) else (*stmt.body, *rest)
    orelse = stmt.orelse if ends_with_return(stmt.orelse) else (*stmt.orelse, *rest)
    return ast.If(stmt.loc, stmt.cond, body, orelse)


class Lowerer(ExprLowerer):
    """Lowers one program; collects every diagnostic before raising."""

    def __init__(self, builder: Builder, tools: Tools) -> None:
        super().__init__(builder, tools)
        self.loop_depth = 0
        self.return_type: Type = ANY
        self.call_stack: list[str] = []
        self.block_depth = 0
        self.inlined_calls = 0

    # ---- statements -------------------------------------------------------------------------

    def lower_block(self, stmts: tuple[ast.Stmt, ...], env: Env) -> None:
        if not stmts:
            return
        if self.block_depth >= MAX_BLOCK_DEPTH:
            self.report(
                "too-deep",
                f"blocks nest more than {MAX_BLOCK_DEPTH} levels deep here "
                "(counting early returns, which nest what follows them, and inlined "
                "calls)",
                stmts[0].loc,
                "collect results in variables and return once at the end",
            )
            return
        self.block_depth += 1
        try:
            self.lower_statements(stmts, env)
        finally:
            self.block_depth -= 1

    def lower_statements(self, stmts: tuple[ast.Stmt, ...], env: Env) -> None:
        for i, stmt in enumerate(stmts):
            if RETURN in env.vars:
                self.report(
                    "unreachable",
                    "code after return is never run",
                    stmt.loc,
                    "remove it, or move the return after it",
                )
                return
            rest = stmts[i + 1 :]
            if isinstance(stmt, ast.If) and rest and returns_somewhere(stmt):
                self.lower_stmt(push_continuation(stmt, rest), env)
                return
            self.lower_stmt(stmt, env)

    def lower_stmt(self, stmt: ast.Stmt, env: Env) -> None:
        with self.b.location(stmt.loc):
            match stmt:
                case ast.Assign(target=name, value=value):
                    self.bind(name, self.lower_expr(value, env), env)
                case ast.AugAssign(target=name, op=op, value=value):
                    expr = ast.BinOp(stmt.loc, op, ast.Name(stmt.loc, name), value)
                    self.bind(name, self.lower_expr(expr, env), env)
                case ast.ExprStmt(value=value):
                    self.lower_expr_stmt(value, env)
                case ast.Return(value=value):
                    self.lower_return(stmt, value, env)
                case ast.Assert(cond=cond, message=message):
                    operands = [self.lower_expr(cond, env)]
                    if message is not None:
                        operands.append(self.lower_expr(message, env))
                    self.b.create(AssertOp, operands)
                case ast.Pass():
                    pass
                case ast.If():
                    self.lower_if(stmt, env)
                case ast.For():
                    self.lower_for(stmt, env)

    def bind(self, name: str, value: Value, env: Env) -> None:
        if name in self.tools.by_name or name == "llm":
            self.warn(
                "shadowing",
                f"'{name}' shadows a tool of the same name",
                self.b.loc,
                "pick another variable name",
            )
        if value.name_hint is None:
            value.name_hint = name
        env.vars[name] = value
        env.loop_locals.pop(name, None)
        env.branch_locals.pop(name, None)

    def lower_expr_stmt(self, value: ast.Expr, env: Env) -> None:
        if not isinstance(value, ast.Call):
            self.warn(
                "no-effect",
                "this expression has no effect",
                value.loc,
                "assign it to a variable, or remove it",
            )
        self.lower_expr(value, env)

    def lower_return(self, stmt: ast.Return, value: ast.Expr | None, env: Env) -> None:
        if self.loop_depth:
            self.report(
                "unsupported",
                "return inside a loop is not supported",
                stmt.loc,
                "collect what you need in the loop and return after it",
            )
            return
        result = self.lower_expr(value, env) if value is not None else self.const(None, stmt.loc)
        if not is_assignable(result.type, self.return_type):
            self.report(
                "type-mismatch",
                f"returns {result.type}, but the function is declared to return {self.return_type}",
                stmt.loc,
            )
        env.vars[RETURN] = result

    def lower_if(self, stmt: ast.If, env: Env) -> None:
        cond = self.lower_expr(stmt.cond, env)
        before = set(env.vars)

        run = self.branch_runner

        def merged(a: Env, b: Env) -> list[str]:
            names = [n for n in _changed(env, a, b) if n in before or (n in a.vars and n in b.vars)]
            for n in _changed(env, a, b):
                if n not in names and not n.startswith("$"):
                    env.branch_locals[n] = stmt.loc
            return names

        self.emit_if(cond, env, [stmt], run(stmt), run(stmt, orelse=True), merged)

    def branch_runner(self, stmt: ast.If, orelse: bool = False) -> Callable[[Env], Env]:
        """Lowers one branch; a branch without a return gets the function's fall-through value
        when the other branch returns, so both yield the return slot."""
        body = stmt.orelse if orelse else stmt.body

        def lower(branch: Env) -> Env:
            self.lower_block(body, branch)
            if RETURN not in branch.vars and returns_somewhere(stmt) and not self.loop_depth:
                branch.vars[RETURN] = self.fall_through_value(stmt)
            return branch

        return lower

    def fall_through_value(self, stmt: ast.If) -> Value:
        """The return value of a path that runs off the end of the function."""
        if self.return_type not in (NONE, ANY):
            self.report(
                "missing-return",
                "not every path through this if returns a value",
                stmt.loc,
                f"the function is declared to return {self.return_type}",
            )
        return self.const(None, stmt.loc)

    def lower_for(self, stmt: ast.For, env: Env) -> None:
        iterable = self.lower_expr(stmt.iter, env)
        elem = self.typed(lambda: iter_elem(iterable.type), stmt.iter.loc)
        channels = self.tools.channels_of(list(stmt.body))
        carried = [n for n in assigned_names(stmt.body) if n in env.vars and n != stmt.var]
        types = {n: env.vars[n].type for n in carried}
        for round_ in range(MAX_WIDENING_ROUNDS):
            if round_ == MAX_WIDENING_ROUNDS - 1:
                types = dict.fromkeys(carried, ANY)
            block, inner = self.lower_loop_body(stmt, elem, carried, types, channels, env)
            if all(is_assignable(inner.vars[n].type, types[n]) for n in carried):
                break
            _discard(block)
            types = {n: join(types[n], inner.vars[n].type) for n in carried}
        with self.b.insertion(block):
            values = [self.cast(inner.vars[n], types[n]) for n in carried]
            self.b.create(YieldOp, [*values, *(inner.tokens[c] for c in channels)])
        inits = [self.cast(env.vars[n], types[n]) for n in carried]
        tokens = [env.tokens[c] for c in channels]
        result_types = [*(types[n] for n in carried), *(channel_type(c) for c in channels)]
        op = self.b.create(
            ForOp,
            [iterable, *inits, *tokens],
            result_types,
            {"collect": False, "filter": False},
            [Region([block])],
            [*carried, *map(channel_hint, channels)],
        )
        env.vars.update(zip(carried, op.results, strict=False))
        env.tokens.update(zip(channels, op.results[len(carried) :], strict=True))
        for name in assigned_names(stmt.body):
            if name not in env.vars:
                env.loop_locals[name] = stmt.loc

    def lower_loop_body(
        self,
        stmt: ast.For,
        elem: Type,
        carried: list[str],
        types: dict[str, Type],
        channels: list[str],
        env: Env,
    ) -> tuple[Block, Env]:
        block = Block(
            [elem, *(types[n] for n in carried), *(channel_type(c) for c in channels)],
            [stmt.var, *carried, *map(channel_hint, channels)],
        )
        inner = env.copy()
        inner.vars[stmt.var] = block.args[0]
        inner.vars.update(zip(carried, block.args[1:], strict=False))
        inner.tokens.update(zip(channels, block.args[1 + len(carried) :], strict=True))
        saved = list(self.diagnostics)
        self.loop_depth += 1
        try:
            with self.b.insertion(block):
                self.lower_block(stmt.body, inner)
        finally:
            self.loop_depth -= 1
        if any(not is_assignable(inner.vars[n].type, types[n]) for n in carried):
            self.diagnostics[:] = saved  # this attempt is discarded; the retry reports
        return block, inner

    # ---- functions and the module -----------------------------------------------------------

    def inline_call(self, fn: ast.FuncDef, e: ast.Call, env: Env) -> Value:
        """Lower a call of one of the program's functions by inlining its body here.

        The callee sees only its parameters (and the caller's state tokens, which it threads);
        its ops keep their own source locations. Recursion is rejected: programs terminate.
        """
        self.inlined_calls += 1
        if self.inlined_calls > MAX_INLINED_CALLS:
            if self.inlined_calls == MAX_INLINED_CALLS + 1:
                self.report(
                    "too-large",
                    f"more than {MAX_INLINED_CALLS} function calls to "
                    "inline: the program is too large",
                    e.loc,
                    "call helpers inside a loop rather than from many places",
                )
            return self.undef()
        if fn.name in self.call_stack:
            chain = " -> ".join([*self.call_stack, fn.name])
            self.report(
                "recursion",
                f"recursive call of '{fn.name}' ({chain})",
                e.loc,
                "programs must terminate: use a for loop over a list instead",
            )
            return self.undef()
        callee = Env(tokens=dict(env.tokens))
        callee.vars.update(self.bind_call_args(fn, e, env))
        saved = (self.return_type, self.loop_depth)
        self.return_type, self.loop_depth = self.annotation(fn.returns), 0
        self.call_stack.append(fn.name)
        try:
            self.lower_block(fn.body, callee)
            result = callee.vars.get(RETURN)
            if result is None:
                self.check_falls_off(fn)
                result = self.const(None, e.loc)
        finally:
            self.call_stack.pop()
            self.return_type, self.loop_depth = saved
        env.tokens.update(callee.tokens)
        return result

    def bind_call_args(self, fn: ast.FuncDef, e: ast.Call, env: Env) -> dict[str, Value]:
        """Lower a call's arguments and bind them to `fn`'s parameters, checking their types."""
        nodes: dict[str, ast.Expr] = {}
        for param, arg in zip(fn.params, e.args, strict=False):
            nodes[param.name] = arg
        if len(e.args) > len(fn.params):
            self.report(
                "arity",
                f"{fn.name}() takes {len(fn.params)} arguments, {len(e.args)} given",
                e.args[len(fn.params)].loc,
            )
        names = [p.name for p in fn.params]
        for kw in e.keywords:
            if kw.name not in names or kw.name in nodes:
                problem = "has no parameter" if kw.name not in names else "got twice"
                self.report(
                    "unknown-keyword" if kw.name not in names else "arity",
                    f"{fn.name}() {problem} '{kw.name}'",
                    kw.loc,
                    suggest(kw.name, names),
                )
            else:
                nodes[kw.name] = kw.value
        bound: dict[str, Value] = {}
        for p in fn.params:
            want = self.annotation(p.type)
            node = nodes.get(p.name, p.default)
            if node is None:
                self.report("arity", f"{fn.name}() is missing argument '{p.name}'", e.loc)
                bound[p.name] = self.undef(want)
                continue
            value = self.lower_expr(node, env)
            self.check_arg(value, want, f"argument '{p.name}' of {fn.name}()", node.loc)
            bound[p.name] = self.cast(value, want) if is_assignable(value.type, want) else value
        return bound

    def check_falls_off(self, fn: ast.FuncDef) -> None:
        if self.return_type not in (NONE, ANY):
            self.report(
                "missing-return",
                f"{fn.name}() must return {self.return_type}",
                fn.loc,
                "end it with a return statement",
            )

    def lower_function(self, fn: ast.FuncDef, module_block: Block) -> None:
        records = self.tools.records
        params: list[tuple[str, Type]] = []
        for p in fn.params:
            t = resolve_type(p.type, records)
            if isinstance(t, str):
                self.report("unknown-type", t, p.type.loc)
                t = ANY
            params.append((p.name, t))
        self.return_type = self.annotation(fn.returns)
        channels = [TAB_CHANNEL, *self.tools.resource_channels()]
        block = Block(
            [t for _, t in params] + [channel_type(c) for c in channels],
            [n for n, _ in params] + [channel_hint(c) for c in channels],
        )
        env = Env()
        env.vars.update(zip((n for n, _ in params), block.args, strict=False))
        env.tokens.update(zip(channels, block.args[len(params) :], strict=True))
        with self.b.insertion(block), self.b.location(fn.loc):
            self.lower_block(fn.body, env)
            result = env.vars.get(RETURN)
            if result is None:
                self.check_falls_off(fn)
                result = self.const(None, fn.loc)
            if self.return_type != ANY and is_assignable(result.type, self.return_type):
                result = self.cast(result, self.return_type)
            self.b.create(ReturnOp, [result, *(env.tokens[c] for c in channels)])
        result_types = [result.type, *(channel_type(c) for c in channels)]
        attrs = {
            "sym_name": fn.name,
            "arg_names": [n for n, _ in params],
            "result_types": result_types,
            "defaults": self.param_defaults(fn),
        }
        with self.b.insertion(module_block), self.b.location(fn.loc):
            self.b.create(FuncOp, [], [], attrs, [Region([block])])

    def param_defaults(self, fn: ast.FuncDef) -> dict[str, object]:
        """Literal parameter defaults (numbers, text, lists, dicts), checked against the type."""
        defaults: dict[str, object] = {}
        for p in fn.params:
            if p.default is None:
                continue
            try:
                value = literal_value(p.default)
            except ValueError:
                self.report(
                    "unsupported",
                    "a parameter default must be a literal",
                    p.default.loc,
                    'e.g. limit: int = 5, or names: list[str] = ["a"]',
                )
                continue
            want = self.annotation(p.type)
            if not is_assignable(type_of_constant(value), want):
                self.report(
                    "type-mismatch",
                    f"default of '{p.name}' is "
                    f"{type_of_constant(value)}, but the parameter is {want}",
                    p.default.loc,
                )
            defaults[p.name] = value
        return defaults

    def annotation(self, t: ast.TypeExpr | None) -> Type:
        if t is None:
            return ANY
        resolved = resolve_type(t, self.tools.records)
        if isinstance(resolved, str):
            self.report("unknown-type", resolved, t.loc)
            return ANY
        return resolved


def literal_value(e: ast.Expr) -> object:
    """The Python value of a literal expression (negative numbers, lists and dicts included);
    ValueError for anything that would need evaluating."""
    match e:
        case ast.Const(value=v):
            return v
        case ast.UnaryOp(op="-", operand=ast.Const(value=v)) if isinstance(v, int | float):
            return -v
        case ast.ListExpr(items=items):
            return [literal_value(i) for i in items]
        case ast.DictExpr(keys=keys, values=values):
            return {
                str(literal_value(k)): literal_value(v) for k, v in zip(keys, values, strict=True)
            }
    raise ValueError("not a literal")


def _changed(env: Env, a: Env, b: Env) -> list[str]:
    """Names whose value differs from `env` in branch `a` or `b`, in a stable order."""
    out: dict[str, None] = {}
    for branch in (a, b):
        for name, value in branch.vars.items():
            if env.vars.get(name) is not value:
                out.setdefault(name, None)
    return list(out)


def _discard(block: Block) -> None:
    """Drop every use the ops of an unattached scratch block hold on outer values."""
    for op in reversed(list(block.walk())):
        op.set_operands([])


def lower_program(
    program: ast.Program, resolve_site: SiteResolver, known_sites: Sequence[str] = ()
) -> tuple[ModuleOp, list[Diagnostic]]:
    """Lower a parsed program to a verified-shape `builtin.module`.

    Returns the module and the warnings; raises `ParseError` with every error found, in source
    order. `known_sites` only improves the hint for a misspelt `use`.
    """
    sites, unresolved, diagnostics = _resolve_sites(program, resolve_site, known_sites)
    module_block = Block()
    module = ModuleOp([], [], {"uses": [u.site for u in program.uses]}, [Region([module_block])])
    functions = {fn.name: fn for fn in program.funcs}
    lowerer = Lowerer(Builder.at_end(module_block), Tools(sites, functions))
    lowerer.tools.unresolved = unresolved
    lowerer.diagnostics.extend(diagnostics)
    names: set[str] = set()
    for fn in program.funcs:
        if fn.name in names:
            lowerer.report("redefined", f"function '{fn.name}' is defined twice", fn.loc)
        names.add(fn.name)
        lowerer.lower_function(fn, module_block)
    if "main" not in names:
        _report_no_main(lowerer, program)
    # A helper's body is lowered once on its own and once per call: report each problem once.
    unique = sorted(dict.fromkeys(lowerer.diagnostics), key=lambda d: (d.loc.line, d.loc.col))
    errors = [d for d in unique if d.severity == Severity.ERROR]
    if errors:
        raise ParseError(errors)
    return module, [d for d in unique if d.severity != Severity.ERROR]


def _report_no_main(lowerer: Lowerer, program: ast.Program) -> None:
    funcs = program.funcs
    loc = funcs[0].loc if funcs else program.loc
    hint = "define the entry point: def main(...) -> ...:"
    if len(funcs) == 1:
        hint = f"rename '{funcs[0].name}' to 'main'; it is where the run starts"
    lowerer.report("no-main", "the program has no 'def main(...)'", loc, hint)


def _resolve_sites(
    program: ast.Program, resolve_site: SiteResolver, known_sites: Sequence[str] = ()
) -> tuple[list[SiteSignature], list[str], list[Diagnostic]]:
    """The sites the program uses, the names that found no site, and the diagnostics."""
    sites: list[SiteSignature] = []
    unresolved: list[str] = []
    diagnostics: list[Diagnostic] = []
    seen: set[str] = set()
    for use in program.uses:
        if use.site in seen:
            diagnostics.append(
                Diagnostic(
                    "duplicate-use",
                    f"site '{use.site}' is used twice",
                    use.loc,
                    "remove this line",
                    Severity.WARNING,
                )
            )
            continue
        seen.add(use.site)
        try:
            site = resolve_site(use.site)
        except CompilerError as exc:
            diagnostics.extend(d for d in exc.diagnostics)
            continue
        if site is None:
            unresolved.append(use.site)
            diagnostics.append(
                error(
                    "unknown-site",
                    f"unknown site '{use.site}'",
                    use.loc,
                    _site_hint(use.site, known_sites),
                )
            )
        else:
            sites.append(site)
    return sites, unresolved, diagnostics


def _site_hint(name: str, known: Sequence[str]) -> str:
    close = suggest(name, known)
    if close:
        return close
    listing = f"installed sites: {', '.join(known)}; " if known else ""
    return (
        f"{listing}a site is a Python module defining `site = Site(...)`, shipped in "
        "agentjit.sites or registered as an 'agentjit.sites' entry point"
    )
