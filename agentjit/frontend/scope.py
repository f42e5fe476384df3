"""Lowering state: the variable environment, the current state tokens, and the tool table.

`Env` maps DSL names to SSA values and effect channels (`tab`, or a resource such as
`shop.basket`) to their current token. Branches and loop bodies lower in a copy of the env; the
lowerer then merges what changed. `Tools` resolves a call's name against the sites the program
uses, and `channels_of` says which channels an AST subtree touches, so that loops and branches
thread exactly those tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentjit.frontend import ast
from agentjit.ir import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    TAB,
    DictType,
    ListType,
    Location,
    RecordType,
    ResourceToken,
    SiteSignature,
    ToolSignature,
    Type,
    Value,
    suggest,
)

TAB_CHANNEL = "tab"
RETURN = "$return"
"""The env slot holding the function's return value once a `return` has run on this path."""


def channel_hint(channel: str) -> str:
    """The value-name hint for a channel's token: `tab`, or the resource's short name."""
    return channel.rsplit(".", 1)[-1]


def channel_type(channel: str) -> Type:
    return TAB if channel == TAB_CHANNEL else ResourceToken(channel)


@dataclass
class Env:
    """Names and tokens visible at a point of lowering."""

    vars: dict[str, Value] = field(default_factory=dict)
    tokens: dict[str, Value] = field(default_factory=dict)
    loop_locals: dict[str, Location] = field(default_factory=dict)
    """Names assigned only inside a loop body that has ended (for a precise error message)."""
    branch_locals: dict[str, Location] = field(default_factory=dict)
    """Names assigned on only some branches of an `if` that has ended."""

    def copy(self) -> Env:
        return Env(
            dict(self.vars), dict(self.tokens), dict(self.loop_locals), dict(self.branch_locals)
        )


class Tools:
    """The tools and records of the sites a program uses, looked up by name."""

    def __init__(
        self, sites: list[SiteSignature], functions: dict[str, ast.FuncDef] | None = None
    ) -> None:
        self.functions = functions or {}
        """The program's own functions, which calls inline."""
        self.unresolved: list[str] = []
        """Sites the program uses that could not be found (to explain unknown tools)."""
        self.sites = {s.name: s for s in sites}
        self.by_name: dict[str, list[ToolSignature]] = {}
        for site in sites:
            for tool in site.tools.values():
                self.by_name.setdefault(tool.name, []).append(tool)
        self.records: dict[str, RecordType] = {}
        for site in sites:
            for record in site.records:
                self.records[record.name] = record
            for tool in site.tools.values():
                for t in _records_in(tool.result):
                    self.records.setdefault(t.name, t)

    def resource_channels(self) -> list[str]:
        return sorted({c for s in self.sites.values() for c in s.resource_token_names()})

    def resolve(self, func: ast.Expr) -> ToolSignature | None:
        """The tool a call's callee names (`tool` or `site.tool`), if exactly one matches."""
        if isinstance(func, ast.Name):
            found = self.by_name.get(func.id, [])
            return found[0] if len(found) == 1 else None
        if isinstance(func, ast.Attribute) and isinstance(func.obj, ast.Name):
            site = self.sites.get(func.obj.id)
            return site.tools.get(func.attr) if site else None
        return None

    def channels(self, tool: ToolSignature) -> list[str]:
        """The effect channels a call of `tool` threads: the tab first, then written resources."""
        out = [TAB_CHANNEL] if tool.effects.touches_tab else []
        out.extend(sorted(f"{tool.site}.{r}" for r in tool.effects.writes))
        return out

    def channels_of(self, nodes: tuple[ast.Node, ...] | list[ast.Node]) -> list[str]:
        """Every channel some call in `nodes` touches, through the program's own functions too;
        tab first, then sorted."""
        found: set[str] = set()
        pending = list(nodes)
        visited: set[str] = set()
        while pending:
            for sub in pending.pop().walk():
                if not isinstance(sub, ast.Call):
                    continue
                if isinstance(sub.func, ast.Name) and sub.func.id in self.functions:
                    if sub.func.id not in visited:
                        visited.add(sub.func.id)
                        pending.extend(self.functions[sub.func.id].body)
                elif tool := self.resolve(sub.func):
                    found.update(self.channels(tool))
        return sorted(found, key=lambda c: (c != TAB_CHANNEL, c))


def _records_in(t: Type) -> list[RecordType]:
    if isinstance(t, RecordType):
        return [t, *(r for _, ft in t.fields for r in _records_in(ft))]
    if isinstance(t, ListType):
        return _records_in(t.elem)
    if isinstance(t, DictType):
        return _records_in(t.value)
    return []


_PRIM_NAMES: dict[str, Type] = {
    "str": STR,
    "int": INT,
    "float": FLOAT,
    "bool": BOOL,
    "none": NONE,
    "None": NONE,
    "any": ANY,
}


def resolve_type(expr: ast.TypeExpr, records: dict[str, RecordType]) -> Type | str:
    """The IR type an annotation names, or an error message saying what is wrong with it."""
    if expr.name in _PRIM_NAMES and not expr.args:
        return _PRIM_NAMES[expr.name]
    if expr.name in records and not expr.args:
        return records[expr.name]
    if expr.name == "list" and len(expr.args) == 1:
        elem = resolve_type(expr.args[0], records)
        return ListType(elem) if isinstance(elem, Type) else elem
    if expr.name == "dict" and len(expr.args) == 2:
        key = resolve_type(expr.args[0], records)
        value = resolve_type(expr.args[1], records)
        if key != STR:
            return "dict keys must be str"
        return DictType(value) if isinstance(value, Type) else value
    close = suggest(expr.name, [*_PRIM_NAMES, "list", "dict", *records])
    if close:
        return f"unknown type '{expr.name}': {close}"
    known = ", ".join(
        ["str", "int", "float", "bool", "none", "any", "list[T]", "dict[str, T]", *sorted(records)]
    )
    return f"unknown type '{expr.name}' (known: {known})"


def assigned_names(stmts: tuple[ast.Stmt, ...]) -> list[str]:
    """Names assigned anywhere in `stmts` (nested blocks included), in first-assignment order."""
    seen: dict[str, None] = {}
    for stmt in stmts:
        for node in stmt.walk():
            if isinstance(node, ast.Assign | ast.AugAssign):
                seen.setdefault(node.target, None)
            elif isinstance(node, ast.For):
                seen.setdefault(node.var, None)
    return list(seen)
