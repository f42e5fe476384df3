"""The DSL frontend: Lark grammar -> typed AST -> IR.

`compile_source` runs all three stages and returns the module plus warnings, or raises
`ParseError` carrying every located diagnostic. Sites are found through a resolver callable so
the frontend depends on nothing but the IR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentjit.frontend.lower import SiteResolver, lower_program
from agentjit.frontend.parse import parse_program
from agentjit.ir import Diagnostic, ModuleOp


@dataclass
class Compiled:
    module: ModuleOp
    warnings: list[Diagnostic]


def compile_source(
    text: str, file: str, resolve_site: SiteResolver, known_sites: Sequence[str] = ()
) -> Compiled:
    """Parse and lower DSL text; raise `ParseError` with all diagnostics on any error."""
    program = parse_program(text, file)
    module, warnings = lower_program(program, resolve_site, known_sites)
    return Compiled(module, warnings)


__all__ = ["Compiled", "SiteResolver", "compile_source", "lower_program", "parse_program"]
