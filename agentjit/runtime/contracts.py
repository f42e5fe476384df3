"""Run-time checks of tool contracts against the live page, and the run's located errors.

Before a call, the site's `observe(page)` reads the abstract state from the DOM and every
`requires` field it reports must match; after the call, every `ensures` field must hold (with
"$param" and "$result" filled in). Fields the observer does not report are not checked. A
failure stops the run with a `RunError` at the call's source location, naming the call, the
field, what was expected and what the page showed: the same shape as the compiler's errors, so
the LLM repair loop can read it.
"""

from __future__ import annotations

from typing import Any

from agentjit.ir import CompilerError, Operation, error
from agentjit.tools.site import Site, Tool
from agentjit.tools.state import (
    ANY,
    UNKNOWN,
    describe_pattern,
    matches,
    param_ref,
    same_value,
)


class RunError(CompilerError):
    """The run stopped: a contract failed on the live page, a tool raised, an assert failed."""

    @classmethod
    def at(cls, op: Operation, code: str, message: str, hint: str = "") -> RunError:
        return cls(error(code, message, op.loc, hint))

    @property
    def code(self) -> str:
        return self.diagnostics[0].code


def same(a: Any, b: Any) -> bool:
    """`same_value`, or equal as text: the page shows `7` where the program holds 7."""
    return same_value(a, b) or (isinstance(a, bool) == isinstance(b, bool) and str(a) == str(b))


def violations(
    tool: Tool,
    observed: dict[str, Any],
    kwargs: dict[str, Any],
    *,
    phase: str,
    output: Any = None,
) -> list[tuple[str, str, Any]]:
    """The (field, expected, observed) triples where the page breaks the contract's `phase`."""
    patterns = tool.contract.requires if phase == "requires" else tool.contract.ensures
    found = []
    for name, pattern in patterns.items():
        if name not in observed or pattern is ANY or pattern is UNKNOWN:
            continue
        value = observed[name]
        ref = param_ref(pattern)
        if ref is not None:
            wanted = output if ref == "result" else kwargs.get(ref, UNKNOWN)
            if wanted is UNKNOWN or same(value, wanted):
                continue
            found.append((name, f"{describe_pattern(pattern)} = {wanted!r}", value))
        elif not matches(pattern, value):
            found.append((name, describe_pattern(pattern), value))
    return found


async def check_contract(
    site: Site,
    tool: Tool,
    page: Any,
    op: Operation,
    kwargs: dict[str, Any],
    *,
    phase: str,
    output: Any = None,
) -> None:
    """Observe the page and raise `RunError` if it breaks the tool's `phase` contract."""
    patterns = tool.contract.requires if phase == "requires" else tool.contract.ensures
    if site.observer is None or not patterns:
        return
    observed = await site.observer(page)
    broken = violations(tool, observed, kwargs, phase=phase, output=output)
    if not broken:
        return
    name, expected, value = broken[0]
    when = "before" if phase == "requires" else "after"
    call = f"{site.name}.{tool.signature.name}"
    raise RunError.at(
        op,
        f"contract-{phase}",
        f"{when} {call}(), the page's {name} is {value!r}, but the contract {phase} {expected}",
        hint=f"observed state: {observed}; url: {await _url(page)}",
    )


async def _url(page: Any) -> str:
    try:
        return str(await page.url())
    except Exception:
        return "?"
