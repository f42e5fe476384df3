"""Is a model's program a valid plan for the task's site? Compile it and say why not.

`check_program` runs the frontend, the planner's own rules (the program uses the site and its
`main` can be called with no arguments, since the task sentence is all the input there is) and
the optimizing pipeline up to `parallelize`, whose `check-contracts` proves every tool call's
precondition. It returns the optimized module, or the located diagnostics that go back to the
model. Contract diagnostics can be withheld (`contract_feedback=False`) to measure what they
are worth: the model then only hears that the tool order is wrong, not where or why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentjit import compile_text
from agentjit.ir import CompilerError, Diagnostic, Location, ModuleOp, error
from agentjit.passes import PassContext, PassManager

OPTIMIZE = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=MAX_TABS}"
CONTRACT_CODES = frozenset({"contract"})


@dataclass
class Checked:
    """The outcome of checking one program text."""

    program: str
    module: ModuleOp | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.module is not None

    @property
    def stage(self) -> str:
        """Where it failed: `syntax`, `types`, `planner`, `contract`, or `ok`."""
        if self.valid:
            return "ok"
        codes = {d.code for d in self.diagnostics}
        if codes & CONTRACT_CODES:
            return "contract"
        if codes & {"syntax", "unexpected-token", "unexpected-eof", "unexpected-char"}:
            return "syntax"
        if codes & {"planner-site", "planner-main-args"}:
            return "planner"
        return "types"


def check_program(
    program: str,
    site: str,
    file: str,
    max_tabs: int = 4,
    observed: dict[str, dict[str, Any]] | None = None,
) -> Checked:
    """Compile `program` for `site` and optimize it; collect every diagnostic on failure.

    `observed` (`site` -> field -> value) is the live tab's state when re-planning: contracts
    are then checked from there instead of from a fresh tab.
    """
    try:
        compiled = compile_text(program, file)
    except CompilerError as exc:
        return Checked(program, None, exc.diagnostics)
    module = compiled.module
    if observed and module.function("main") is not None:
        module.function("main").start_state = observed
    problems = _planner_rules(module, site, file)
    if problems:
        return Checked(program, None, problems)
    try:
        pipeline = OPTIMIZE.replace("MAX_TABS", str(max_tabs))
        PassManager.from_pipeline(pipeline).run(module, PassContext())
    except CompilerError as exc:
        return Checked(program, None, exc.diagnostics)
    return Checked(program, module)


def _planner_rules(module: ModuleOp, site: str, file: str) -> list[Diagnostic]:
    top = Location(file, 1, 1, 1, 2)
    main = module.function("main")
    if site not in _site_names(module.uses):
        return [
            error(
                "planner-site",
                f"the program does not use the site '{site}'",
                top,
                f"start the program with the line: use {site}",
            )
        ]
    if main is None:
        return []  # the frontend already reported the missing main
    required = [name for name in main.arg_names if name not in (main.defaults or {})]
    if required:
        return [
            error(
                "planner-main-args",
                f"main has parameters without defaults: {', '.join(required)}",
                main.loc,
                "the task gives every value: write them as defaults, e.g. "
                f'def main({required[0]}: str = "...")',
            )
        ]
    return []


def _site_names(uses: list[str]) -> set[str]:
    """The names of the sites a module uses (a `use` may name a module path)."""
    from agentjit.tools import load_site

    found = {load_site(name) for name in uses}
    return set(uses) | {s.name for s in found if s is not None}


def withhold_contract_details(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics with every contract error replaced by one unlocated sentence."""
    kept = [d for d in diagnostics if d.code not in CONTRACT_CODES]
    if len(kept) < len(diagnostics):
        kept.append(
            error(
                "contract",
                "the program calls a tool on a page where the site does not allow it",
                hint="check each tool's 'needs' line",
            )
        )
    return kept
