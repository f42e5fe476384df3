"""agentjit: an optimizing compiler for web agents.

A task is a program in a small agent DSL; it is parsed (Lark) into an SSA dataflow IR whose
effects are state tokens, checked, optimized by passes, and (in later stages) scheduled by a cost
model and run on a browser backend. This facade wires the frontend to the shipped site registry:

    from agentjit import compile_file
    compiled = compile_file("examples/shop_cheapest.agent")
    print(agentjit.ir.print_ir(compiled.module))
"""

from __future__ import annotations

from pathlib import Path

from agentjit.frontend import Compiled, compile_source
from agentjit.ir import verify

__version__ = "0.1.0"


def compile_text(text: str, file: str = "<input>") -> Compiled:
    """Parse, lower and verify DSL text against the installed sites."""
    from agentjit.tools import builtin_site_names, resolve_site

    compiled = compile_source(text, file, resolve_site, builtin_site_names())
    verify(compiled.module)
    return compiled


def compile_file(path: str | Path) -> Compiled:
    """`compile_text` on a file's contents, with diagnostics located in that file."""
    path = Path(path)
    return compile_text(path.read_text(encoding="utf-8"), str(path))


__all__ = ["Compiled", "__version__", "compile_file", "compile_text"]
