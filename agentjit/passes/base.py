"""The pass contract.

A pass is a frozen dataclass: its `name` is how pipelines refer to it, its fields are its
options (`dce{aggressive=true}` sets `aggressive`), and `run(module, ctx)` transforms the module
in place. A pass may leave the IR unverifiable while it runs but must leave it valid when it
returns; the manager verifies after every pass by default. A pass reports user-facing problems
by raising a `CompilerError` subclass (normally `PassError`) with located diagnostics, and sets
`ctx.changed` when it changed anything.

Option syntax in pipeline strings: `name{key=value,key2=value2}`; values are parsed by the
field's type: `true`/`false` for bool, decimal for int and float, anything else for str.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from agentjit.ir import Diagnostic, ModuleOp


@dataclass
class PassContext:
    """State shared by the passes of one pipeline run."""

    options: dict[str, Any] = field(default_factory=dict)
    """Pipeline-wide settings (the site resolver, the cost model, ...), by name."""
    changed: bool = False
    """Set by a pass that modified the module; reset by the manager before each pass."""
    analyses: dict[Any, Any] = field(default_factory=dict)
    """Cached analyses, keyed by (analysis, op); dropped after any pass that changed the IR."""
    warnings: list[Diagnostic] = field(default_factory=list)
    """Warnings passes report without failing (shown by the CLI)."""


@dataclass(frozen=True)
class Pass:
    """Base class of all passes. Subclasses set `name` and a docstring saying what the pass
    does, when it is legal, and what it preserves."""

    name: ClassVar[str] = ""

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        raise NotImplementedError

    def spec(self) -> str:
        """This pass and its non-default options, in pipeline syntax."""
        from dataclasses import fields

        opts = [
            f"{f.name}={_format_option(getattr(self, f.name))}"
            for f in fields(self)
            if getattr(self, f.name) != f.default
        ]
        return self.name + ("{" + ",".join(opts) + "}" if opts else "")


def _format_option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
