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

from agentjit.ir import (
    ANY,
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

_SCALARS: dict[Any, Type] = {
    str: STR,
    int: INT,
    float: FLOAT,
    bool: BOOL,
    None: NONE,
    type(None): NONE,
    Any: ANY,
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


@dataclass
class Tool:
    """A declared tool: its Python implementation and its compiler-facing signature."""

    fn: Callable[..., Any]
    signature: ToolSignature


@dataclass
class Site:
    """A web application the agent works on, and the tools it offers."""

    name: str
    base_url: str = ""
    origins: tuple[str, ...] = ()
    """Origins navigation may reach; defaults to the origin of `base_url`."""
    version: str = "0"
    doc: str = ""
    tools: dict[str, Tool] = field(default_factory=dict)

    def tool(
        self,
        *,
        reads_page: bool = False,
        navigates: bool = False,
        writes: tuple[str, ...] | frozenset[str] = (),
        idempotent: bool = False,
        commutative: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as a tool of this site."""
        effects = Effects(reads_page, navigates, frozenset(writes), idempotent, commutative)

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            if fn.__name__ in self.tools:
                raise ValueError(f"site {self.name} declares tool {fn.__name__} twice")
            self.tools[fn.__name__] = Tool(fn, self._signature_of(fn, effects))
            return fn

        return register

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
