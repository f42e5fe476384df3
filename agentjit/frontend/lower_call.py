"""Lowering of calls: site tools, `llm(...)` templates and builtins.

Tool calls are checked against the tool's signature (arity, keyword names, argument types,
defaults filled in) and thread the tokens of the channels the tool touches. An `llm` template
must be a string literal so its placeholders are checked at compile time and page text can never
change the plan. Builtins are checked against their arity, keywords and type rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentjit.frontend import ast
from agentjit.frontend.scope import Env
from agentjit.ir import (
    BUILTINS,
    STR,
    Builtin,
    LlmCallOp,
    ToolCallOp,
    ToolSignature,
    Value,
    suggest,
)
from agentjit.ir.builtins import template_names
from agentjit.ir.types import ANY, ListType

if TYPE_CHECKING:
    from agentjit.frontend.lower_expr import ExprLowerer

LLM_SETTINGS = {"model": str, "temperature": (int, float)}


def lower_call(lw: ExprLowerer, e: ast.Call, env: Env) -> Value:
    func = e.func
    if isinstance(func, ast.Name):
        if func.id == "llm":
            return lower_llm(lw, e, env)
        if func.id in lw.tools.functions and func.id not in env.vars:
            return lw.inline_call(lw.tools.functions[func.id], e, env)
        if func.id in BUILTINS and func.id not in env.vars:
            return lower_builtin(lw, BUILTINS[func.id], e, env)
        if func.id in env.vars:
            lw.report("type-mismatch", f"'{func.id}' is a value, not a function", func.loc)
            return _discard_args(lw, e, env)
    tool = lw.tools.resolve(func)
    if tool is not None:
        return lower_tool(lw, tool, e, env)
    report_unknown_callee(lw, func, env)
    return _discard_args(lw, e, env)


def report_unknown_callee(lw: ExprLowerer, func: ast.Expr, env: Env) -> None:
    known = [*lw.tools.by_name, *BUILTINS, *lw.tools.functions, "llm"]
    if isinstance(func, ast.Name):
        owners = lw.tools.by_name.get(func.id, [])
        if len(owners) > 1:
            sites = ", ".join(f"{t.site}.{t.name}" for t in owners)
            lw.report(
                "ambiguous-name",
                f"'{func.id}' is a tool of several sites",
                func.loc,
                f"qualify it: {sites}",
            )
            return
        hint = suggest(func.id, known) or _tool_hint(lw)
        lw.report("undefined-name", f"unknown function '{func.id}'", func.loc, hint)
        return
    if isinstance(func, ast.Attribute):
        if isinstance(func.obj, ast.Name) and func.obj.id in lw.tools.sites:
            site = lw.tools.sites[func.obj.id]
            lw.report(
                "undefined-name",
                f"site {site.name} has no tool '{func.attr}'",
                func.loc,
                suggest(func.attr, list(site.tools)) or _tool_hint(lw),
            )
            return
        hint = f"call it as {func.attr}(value)" if func.attr in BUILTINS else ""
        lw.report(
            "unsupported",
            f"method calls are not supported ('.{func.attr}(...)')",
            func.loc,
            hint or "use a builtin function or a tool",
        )
        return
    lw.report("unsupported", "only named functions can be called", func.loc)


def _tool_hint(lw: ExprLowerer) -> str:
    if lw.tools.unresolved:
        return f"it may belong to site '{lw.tools.unresolved[0]}', which could not be found"
    if not lw.tools.sites:
        return "no site is in use: add 'use SITE' at the top to call its tools"
    names = sorted(lw.tools.by_name)
    return "available tools: " + ", ".join(names[:15]) + (" ..." if len(names) > 15 else "")


def _discard_args(lw: ExprLowerer, e: ast.Call, env: Env) -> Value:
    """Lower the arguments anyway (to report their own errors), then yield a placeholder."""
    for a in e.args:
        if not isinstance(a, ast.Lambda):
            lw.lower_expr(a, env)
    for k in e.keywords:
        if not isinstance(k.value, ast.Lambda):
            lw.lower_expr(k.value, env)
    return lw.undef()


# ---- tools ----------------------------------------------------------------------------------


def lower_tool(lw: ExprLowerer, tool: ToolSignature, e: ast.Call, env: Env) -> Value:
    bound = bind_tool_args(lw, tool, e)
    values: list[Value] = []
    for param in tool.params:
        node = bound.get(param.name)
        if node is None:
            values.append(lw.const(param.default, e.loc, param.type))
            continue
        value = lw.lower_expr(node, env)
        lw.check_arg(value, param.type, f"argument '{param.name}' of {tool.name}()", node.loc)
        values.append(value)
    channels = lw.tools.channels(tool)
    tokens = [env.tokens[c] for c in channels]
    with lw.b.location(e.loc):
        op = lw.b.create(
            ToolCallOp,
            [*values, *tokens],
            [tool.result, *(t.type for t in tokens)],
            {
                "tool": tool.qualified_name,
                "args": [p.name for p in tool.params],
                "effects": tool.effects.to_attr(),
            },
            names=[None, *(c.split(".")[-1] for c in channels)],
        )
    env.tokens.update(zip(channels, op.token_results, strict=True))
    return op.output


def bind_tool_args(lw: ExprLowerer, tool: ToolSignature, e: ast.Call) -> dict[str, ast.Expr]:
    """Map the call's arguments to parameter names; report arity and keyword problems."""
    bound: dict[str, ast.Expr] = {}
    sig = tool.describe()
    for i, arg in enumerate(e.args):
        if i >= len(tool.params):
            lw.report(
                "arity",
                f"{tool.name}() takes {len(tool.params)} arguments, {len(e.args)} given",
                arg.loc,
                sig,
            )
            break
        bound[tool.params[i].name] = arg
    for kw in e.keywords:
        if tool.param(kw.name) is None:
            hint = suggest(kw.name, [p.name for p in tool.params]) or sig
            lw.report(
                "unknown-keyword", f"{tool.name}() has no parameter '{kw.name}'", kw.loc, hint
            )
        elif kw.name in bound:
            lw.report("arity", f"{tool.name}() got '{kw.name}' twice", kw.loc, sig)
        else:
            bound[kw.name] = kw.value
    misspelt = any(tool.param(kw.name) is None for kw in e.keywords)
    for p in tool.params:
        if p.required and p.name not in bound and not misspelt:
            lw.report("arity", f"{tool.name}() is missing argument '{p.name}'", e.loc, sig)
    return bound


# ---- llm ------------------------------------------------------------------------------------


def lower_llm(lw: ExprLowerer, e: ast.Call, env: Env) -> Value:
    usage = 'llm("a template with {name} placeholders", name=value, ...)'
    template_node = e.args[0] if e.args else None
    if not (isinstance(template_node, ast.Const) and isinstance(template_node.value, str)):
        lw.report(
            "llm-template",
            "llm() needs a string literal template as its first argument",
            template_node.loc if template_node else e.loc,
            usage,
        )
        return _discard_args(lw, e, env)
    for extra in e.args[1:]:
        lw.report("arity", "llm() takes values as keyword arguments only", extra.loc, usage)
    template = template_node.value
    attrs: dict[str, object] = {"template": template, "model": "default", "temperature": 0.0}
    names: list[str] = []
    values: list[Value] = []
    for kw in e.keywords:
        if kw.name in LLM_SETTINGS:
            _llm_setting(lw, kw, attrs)
            continue
        names.append(kw.name)
        values.append(lw.lower_expr(kw.value, env))
    for missing in (n for n in template_names(template) if n not in names):
        lw.report(
            "llm-template",
            f"template placeholder '{{{missing}}}' has no value",
            template_node.loc,
            f"pass {missing}=... to llm()",
        )
    for unused in (n for n in names if n not in template_names(template)):
        lw.warn(
            "llm-template",
            f"llm() argument '{unused}' is not used by the template",
            e.loc,
            f"add {{{unused}}} to the template or drop the argument",
        )
    attrs["args"] = names
    with lw.b.location(e.loc):
        return lw.b.create(LlmCallOp, values, [STR], attrs).out


def _llm_setting(lw: ExprLowerer, kw: ast.Keyword, attrs: dict[str, object]) -> None:
    value = kw.value.value if isinstance(kw.value, ast.Const) else None
    kind = LLM_SETTINGS[kw.name]
    if value is None or isinstance(value, bool) or not isinstance(value, kind):
        lw.report("llm-template", f"llm({kw.name}=...) must be a literal", kw.loc)
        return
    attrs[kw.name] = float(value) if kw.name == "temperature" else value


# ---- builtins -------------------------------------------------------------------------------


def lower_builtin(lw: ExprLowerer, spec: Builtin, e: ast.Call, env: Env) -> Value:
    if not spec.min_args <= len(e.args) <= spec.max_args:
        want = (
            f"{spec.min_args}"
            if spec.min_args == spec.max_args
            else f"{spec.min_args} to {spec.max_args}"
        )
        lw.report(
            "arity",
            f"{spec.name}() takes {want} positional arguments, {len(e.args)} given",
            e.loc,
            spec.doc,
        )
        return _discard_args(lw, e, env)
    args = [lw.lower_expr(a, env) for a in e.args]
    kwargs: dict[str, Value] = {}
    key_node: ast.Expr | None = None
    for kw in e.keywords:
        if kw.name == "key" and spec.takes_key:
            key_node = kw.value
        elif kw.name in spec.keywords or "*" in spec.keywords:
            kwargs[kw.name] = lw.lower_expr(kw.value, env)
        else:
            allowed = [*spec.keywords, *(["key"] if spec.takes_key else [])]
            lw.report(
                "unknown-keyword",
                f"{spec.name}() takes no argument '{kw.name}'",
                kw.loc,
                f"it takes: {', '.join(allowed)}" if allowed else spec.doc,
            )
    region = None
    if key_node is not None:
        seq = args[0].type if len(args) == 1 else ListType(args[0].type)
        elem = seq.elem if isinstance(seq, ListType) else ANY
        region = lw.lower_builtin_key(key_node, elem, env)
    if spec.name == "format":
        _check_format(lw, e, kwargs)
    return lw.builtin_op(spec, args, kwargs, region, e.loc)


def _check_format(lw: ExprLowerer, e: ast.Call, kwargs: dict[str, Value]) -> None:
    template = e.args[0] if e.args else None
    if isinstance(template, ast.Const) and isinstance(template.value, str):
        for missing in (n for n in template_names(template.value) if n not in kwargs):
            lw.report(
                "llm-template",
                f"format placeholder '{{{missing}}}' has no value",
                template.loc,
                f"pass {missing}=... to format()",
            )
