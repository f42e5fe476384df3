"""What the model is shown: the DSL reference, the site's tools with contracts, worked examples.

The prompt is a chat: a system message (reference + tools), then worked examples as user/assistant
turns, then the task. Everything before the task is the same for every candidate and every task
on a site, so a server with a prompt cache (llama.cpp keeps the previous prefix) processes it
once. Repair turns append the model's program and the compiler's located diagnostics, rendered
with caret excerpts, and ask for the whole corrected program.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from agentjit.ir import Diagnostic
from agentjit.ir.builtins import BUILTINS
from agentjit.ir.types import DictType, ListType, RecordType, Type
from agentjit.planner.endpoint import Message
from agentjit.tools.site import Site, Tool
from agentjit.tools.state import describe_pattern

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "examples"
FENCE = "```agent"
MAX_EXAMPLE_LINES = 16
"""Longer examples cost a small model's context more than they teach."""

REFERENCE = """\
You write programs in agentjit's DSL: a small, Python-like language for web tasks.
Rules:
- First line: `use SITE`. Then `def main() -> TYPE:` with an indented body (4 spaces).
- Statements: `x = expr`, `x += expr`, `if/elif/else`, `for x in xs:`, `return expr`,
  `assert cond, "message"`, `pass`. No while, no import, no classes, no try.
- Expressions: numbers, "strings", True/False/None, [lists], {"k": v} dicts, + - * / // %,
  == != < <= > >=, and/or/not, `in`, x.field, xs[i], calls with keyword arguments,
  [f(x) for x in xs if cond], `a if cond else b`, `lambda p: p.price` (only as key=).
- Tools are called by name with keyword arguments: `open_category(name="Books")`.
- Each tool says which page it needs first; open that page before calling it.
- No f-strings: use format("{n} items", n=count).
- Answer with exactly one program in a ```agent fenced block, nothing else.
"""


def type_text(t: Type) -> str:
    """A type as the DSL writes it."""
    if isinstance(t, ListType):
        return f"list[{type_text(t.elem)}]"
    if isinstance(t, DictType):
        return f"dict[str, {type_text(t.value)}]"
    if isinstance(t, RecordType):
        return t.name
    text = str(t)
    return {"none": "None"}.get(text, text)


def _records(site: Site) -> list[RecordType]:
    found: dict[str, RecordType] = {}

    def visit(t: Type) -> None:
        if isinstance(t, ListType):
            visit(t.elem)
        elif isinstance(t, DictType):
            visit(t.value)
        elif isinstance(t, RecordType):
            found.setdefault(t.name, t)

    for tool in site.tools.values():
        visit(tool.signature.result)
    return list(found.values())


def _tool_line(tool: Tool) -> str:
    sig = tool.signature
    params = ", ".join(
        f"{p.name}: {type_text(p.type)}" + ("" if p.required else f" = {p.default!r}")
        for p in sig.params
    )
    notes = [sig.doc.splitlines()[0].rstrip(".")] if sig.doc else []
    contract = tool.contract
    notes += [f"needs {f} {describe_pattern(p)}" for f, p in contract.requires.items()]
    notes += [f"then {f} = {describe_pattern(p)}" for f, p in contract.ensures.items()]
    notes += [
        f"{arg} must come from {' or '.join(t + '()' for t in tools)}"
        for arg, tools in contract.requires_called.items()
    ]
    return f"{sig.name}({params}) -> {type_text(sig.result)}\n    # " + "; ".join(notes)


def tools_text(site: Site) -> str:
    """The site's records and tools as DSL-style signatures with their contracts."""
    out = [f"Site `{site.name}`: {site.doc}", "Records (read fields with .name):"]
    for record in _records(site):
        fields = ", ".join(f"{n}: {type_text(t)}" for n, t in record.fields)
        out.append(f"  {record.name}({fields})")
    out.append("Tools:")
    out.extend("  " + _tool_line(tool) for tool in site.tools.values())
    builtins = ", ".join(sorted(name for name in BUILTINS if name != "llm"))
    out.append(f"Builtins: {builtins}.")
    return "\n".join(out)


@dataclass(frozen=True)
class Example:
    """A worked example: a task sentence and the program that does it."""

    task: str
    program: str


def _example_from_file(path: Path) -> Example:
    lines = path.read_text(encoding="utf-8").splitlines()
    task = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else path.stem
    body = [line for line in lines[1:] if line.strip() and not line.lstrip().startswith("#")]
    program = "\n".join(body) + "\n"
    return Example(task, program)


@cache
def site_examples(site: Site, limit: int = 2) -> tuple[Example, ...]:
    """Shipped examples for `site` that together show the most tools in the fewest lines.

    Greedy: each pick maximizes tools not yet shown per line. Only examples the planner would
    accept are shown (so `main` takes no required arguments); those calling `llm(...)` or
    holding triple-quoted text are skipped: they cost prompt tokens and teach little.
    """
    from agentjit.planner.check import check_program

    pool = []
    for path in sorted(EXAMPLES_DIR.glob(f"{site.name}_*.agent")):
        text = path.read_text(encoding="utf-8")
        if "llm(" not in text and '"""' not in text and "'''" not in text:
            example = _example_from_file(path)
            too_long = example.program.count("\n") > MAX_EXAMPLE_LINES
            if too_long or not check_program(example.program, site.name, path.name).valid:
                continue
            used = {t for t in site.tools if re.search(rf"\b{t}\(", example.program)}
            pool.append((example, used))
    chosen: list[Example] = []
    shown: set[str] = set()
    while pool and len(chosen) < limit:
        best = max(pool, key=lambda e: len(e[1] - shown) / e[0].program.count("\n"))
        pool.remove(best)
        chosen.append(best[0])
        shown |= best[1]
    return tuple(chosen)


def fenced(program: str) -> str:
    return f"{FENCE}\n{program.rstrip()}\n```"


@dataclass(frozen=True)
class Situation:
    """Where a failed run left the browser: re-planning continues from here."""

    observed: dict[str, dict[str, Any]]
    """`site` -> field -> value, read from the live tab."""
    failure: str
    """What stopped the previous plan, rendered."""


def situation_text(situation: Situation) -> str:
    state = "; ".join(
        f"{site}: " + ", ".join(f"{k}={v!r}" for k, v in fields.items())
        for site, fields in situation.observed.items()
    )
    return (
        "\nA previous plan for this task stopped early:\n"
        f"{situation.failure}\n"
        f"The browser tab now shows {state}. Write a program that finishes the task from here."
    )


def plan_messages(
    site: Site,
    task: str,
    examples: Sequence[Example] = (),
    situation: Situation | None = None,
) -> list[Message]:
    """The chat that asks for one program doing `task` on `site` (from `situation`, if any)."""
    messages: list[Message] = [{"role": "system", "content": REFERENCE + "\n" + tools_text(site)}]
    for example in examples:
        messages.append({"role": "user", "content": f"Task: {example.task}"})
        messages.append({"role": "assistant", "content": fenced(example.program)})
    ask = f"Task: {task}" + (situation_text(situation) if situation else "")
    messages.append({"role": "user", "content": ask})
    return messages


def repair_messages(
    history: list[Message], program: str, diagnostics: Sequence[Diagnostic]
) -> list[Message]:
    """The chat extended by the model's last program and what the compiler said about it."""
    report = "\n\n".join(d.render(program) for d in diagnostics[:5])
    ask = (
        f"The compiler rejected that program:\n\n{report}\n\n"
        "Write the whole corrected program in one ```agent block."
    )
    return [
        *history,
        {"role": "assistant", "content": fenced(program)},
        {"role": "user", "content": ask},
    ]


def extract_program(reply: str) -> str:
    """The program in a model's reply: the first fenced block, else the reply from `use` on."""
    fence = re.search(r"```[a-zA-Z]*\n(.*?)(```|$)", reply, re.S)
    text = fence.group(1) if fence else reply
    if not fence:
        start = re.search(r"\buse [\w.]+[ \t]*\n", text)
        text = text[start.start() :] if start else text
    return text.strip("\n") + "\n"
