"""Declaring a site and its tools in Python; deriving the signatures the compiler uses.

    shop = Site("shop", base_url="http://127.0.0.1:8001")

    @shop.tool(navigates=True)
    def open_category(page: Page, name: str) -> None: ...

Parameter and return annotations (str, int, float, bool, None, list[T], dict[str, T] and
dataclasses as records) become IR types; the decorator's keywords become `Effects`. The first
parameter of every tool is the page it runs on and is not part of the DSL signature. Contracts
on the abstract page state (requires/ensures) extend this declaration in the protocol issue.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentjit.ir import ANY as ANY_TYPE
from agentjit.ir import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    REQUIRED,
    STR,
    DictType,
    Effects,
    ListType,
    Param,
    RecordType,
    SiteSignature,
    ToolSignature,
    Type,
)
from agentjit.tools.state import (
    ANY,
    UNKNOWN,
    Contract,
    State,
    allowed_values,
    validate_contract,
)

_SCALARS: dict[Any, Type] = {
    Any: ANY_TYPE,
    str: STR,
    int: INT,
    float: FLOAT,
    bool: BOOL,
    None: NONE,
    type(None): NONE,
}


def ir_type(annotation: Any) -> Type:
    """The IR type of a Python annotation; raises TypeError for what the DSL cannot express."""
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return ListType(ir_type(args[0]))
    if origin is dict and len(args) == 2 and args[0] is str:
        return DictType(ir_type(args[1]))
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        hints = typing.get_type_hints(annotation)
        fields = tuple((f.name, ir_type(hints[f.name])) for f in dataclasses.fields(annotation))
        return RecordType(annotation.__name__, fields)
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"union types are not supported in tool signatures: {annotation}")
    raise TypeError(f"cannot express {annotation!r} as a DSL type")


Predicate = Callable[..., Any]
"""A runtime check: `ready(page)` or `done(page, output)`, async, returning bool."""


@dataclass
class Tool:
    """A declared tool: implementation, compiler-facing signature, contract, runtime checks."""

    fn: Callable[..., Any]
    signature: ToolSignature
    contract: Contract = field(default_factory=Contract)
    ready: Predicate | None = None
    """Polled (bounded) before the call until the page is ready for it."""
    done: Predicate | None = None
    """Polled (bounded) after the call until its effect is visible."""

    def schema(self) -> dict[str, Any]:
        """The tool as JSON schema plus its contract and effects (for prompts and docs)."""
        sig = self.signature
        return {
            "name": sig.name,
            "site": sig.site,
            "description": sig.doc,
            "parameters": {
                "type": "object",
                "properties": {p.name: json_schema(p.type) for p in sig.params},
                "required": [p.name for p in sig.params if p.required],
            },
            "returns": json_schema(sig.result),
            "requires": {k: _pattern_json(v) for k, v in self.contract.requires.items()},
            "ensures": {k: _pattern_json(v) for k, v in self.contract.ensures.items()},
            "requires_called": {k: list(v) for k, v in self.contract.requires_called.items()},
            "effects": sig.effects.to_attr(),
        }


def json_schema(t: Type) -> dict[str, Any]:
    """The JSON schema of an IR type."""
    simple = {STR: "string", INT: "integer", FLOAT: "number", BOOL: "boolean", NONE: "null"}
    if t in simple:
        return {"type": simple[t]}
    if isinstance(t, ListType):
        return {"type": "array", "items": json_schema(t.elem)}
    if isinstance(t, DictType):
        return {"type": "object", "additionalProperties": json_schema(t.value)}
    if isinstance(t, RecordType):
        return {
            "type": "object",
            "title": t.name,
            "properties": {n: json_schema(ft) for n, ft in t.fields},
            "required": [n for n, _ in t.fields],
        }
    return {}


def _pattern_json(pattern: Any) -> Any:
    if pattern is ANY or pattern is UNKNOWN:
        return repr(pattern)
    values = allowed_values(pattern)
    if values is not None and len(values) > 1:
        return sorted(values, key=repr)
    return pattern if values is None else next(iter(values))


@dataclass(eq=False)
class Site:
    """A web application the agent works on, and the tools it offers."""

    name: str
    base_url: str = ""
    origins: tuple[str, ...] = ()
    """Origins navigation may reach; defaults to the origin of `base_url`."""
    version: str = "0"
    doc: str = ""
    state: State = field(default_factory=State)
    """The abstract page state the contracts speak about."""
    start: dict[str, Any] = field(default_factory=dict)
    """The state of a fresh tab; fields not given are UNKNOWN."""
    session_fields: tuple[str, ...] = ()
    """Fields that survive navigating to another site (a login, a basket); the others become
    UNKNOWN when a tool of another site navigates the tab."""
    tools: dict[str, Tool] = field(default_factory=dict)
    observer: Callable[..., Any] | None = None
    """`async observe(page) -> dict`: reads the abstract state from the live DOM."""

    def tool(
        self,
        *,
        reads_page: bool = False,
        navigates: bool = False,
        writes: tuple[str, ...] | frozenset[str] = (),
        idempotent: bool = False,
        commutative: bool = False,
        requires: dict[str, Any] | None = None,
        ensures: dict[str, Any] | None = None,
        requires_called: dict[str, str | tuple[str, ...]] | None = None,
        ready: Predicate | None = None,
        done: Predicate | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as a tool of this site, with its contract."""
        effects = Effects(reads_page, navigates, frozenset(writes), idempotent, commutative)
        called = {
            arg: (tools,) if isinstance(tools, str) else tuple(tools)
            for arg, tools in (requires_called or {}).items()
        }
        contract = Contract(dict(requires or {}), dict(ensures or {}), called)

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            if fn.__name__ in self.tools:
                raise ValueError(f"site {self.name} declares tool {fn.__name__} twice")
            signature = self._signature_of(fn, effects)
            params = {p.name for p in signature.params}
            validate_contract(f"{self.name}.{fn.__name__}", self.state, contract, params)
            self.tools[fn.__name__] = Tool(fn, signature, contract, ready, done)
            return fn

        return register

    def observe(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register the site's `observe(page) -> dict` (decorator)."""
        self.observer = fn
        return fn

    def start_state(self) -> dict[str, Any]:
        """Each field's value in a fresh tab (UNKNOWN unless `start` says otherwise)."""
        return {name: self.start.get(name, UNKNOWN) for name in self.state.fields}

    def _signature_of(self, fn: Callable[..., Any], effects: Effects) -> ToolSignature:
        hints = typing.get_type_hints(fn)
        sig = inspect.signature(fn)
        params = []
        for i, p in enumerate(sig.parameters.values()):
            if i == 0:
                continue  # the page
            default = REQUIRED if p.default is inspect.Parameter.empty else p.default
            params.append(Param(p.name, ir_type(hints[p.name]), default))
        result = ir_type(hints.get("return", type(None)))
        return ToolSignature(
            self.name, fn.__name__, tuple(params), result, effects, inspect.getdoc(fn) or ""
        )

    def signature(self) -> SiteSignature:
        tools = {name: t.signature for name, t in self.tools.items()}
        return SiteSignature(self.name, tools, version=self.version)
