"""What the compiler needs to know about a site's tools: typed parameters, result and effects.

These are plain data. `agentjit.tools` builds them from decorated Python functions; the frontend
types tool calls against them; `tool.call` ops copy the effects into their attributes so the IR
stays self-describing (a pass needs no site object to know a call navigates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentjit.ir.types import RecordType, Type

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()
"""Marks a parameter without a default."""


@dataclass(frozen=True)
class Param:
    name: str
    type: Type
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Effects:
    """What a tool call touches.

    `reads_page` and `navigates` mean the call uses the tab (it consumes and yields the tab
    token); `writes` names server resources it changes (each threads its resource token).
    """

    reads_page: bool = False
    navigates: bool = False
    writes: frozenset[str] = frozenset()
    idempotent: bool = False
    commutative: bool = False
    """Writes of this tool to the same resource may be reordered."""

    @property
    def touches_tab(self) -> bool:
        return self.reads_page or self.navigates

    def to_attr(self) -> dict[str, Any]:
        """The attribute form stored on `tool.call` ops (a plain dict, printed and parsed)."""
        return {
            "reads_page": self.reads_page,
            "navigates": self.navigates,
            "writes": sorted(self.writes),
            "idempotent": self.idempotent,
            "commutative": self.commutative,
        }

    @staticmethod
    def from_attr(attr: Mapping[str, Any]) -> Effects:
        return Effects(
            reads_page=bool(attr.get("reads_page", False)),
            navigates=bool(attr.get("navigates", False)),
            writes=frozenset(attr.get("writes", ())),
            idempotent=bool(attr.get("idempotent", False)),
            commutative=bool(attr.get("commutative", False)),
        )


@dataclass(frozen=True)
class ToolSignature:
    site: str
    name: str
    params: tuple[Param, ...]
    result: Type
    effects: Effects = Effects()
    doc: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.site}.{self.name}"

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def describe(self) -> str:
        """A one-line Python-like signature, used in diagnostics and prompts."""
        params = ", ".join(
            f"{p.name}: {p.type}" + ("" if p.required else f" = {p.default!r}") for p in self.params
        )
        return f"{self.name}({params}) -> {self.result}"


@dataclass(frozen=True)
class SiteSignature:
    name: str
    tools: Mapping[str, ToolSignature]
    records: tuple[RecordType, ...] = field(default=())
    version: str = "0"

    def resource_token_names(self) -> list[str]:
        """Every `site.resource` some tool of this site writes, sorted."""
        return sorted({f"{self.name}.{r}" for t in self.tools.values() for r in t.effects.writes})
