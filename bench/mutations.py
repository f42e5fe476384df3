"""A deterministic corpus of contract mutants of the valid examples (source-level edits).

    from mutations import generate
    for m in generate():          # >= 1,000 distinct mutants, same order every run
        print(m.kind, m.program, m.description)

Every example that `use`s a site is split into statements (Python's tokenizer finds the logical
lines: programs are one statement per line, continued inside brackets or triple quotes), and the
statements are edited. The kinds follow the contract-checking issue:

    swap_calls           swap two statements that call tools
    drop_navigation      delete a statement that calls a navigating tool
    move_out_of_branch   move a tool-calling statement out of its `if`/`else`/`for` block:
                         before the compound statement, after it, or to the function's top
    shift_call           move a tool-calling statement (or block) one to three statements up or down
    detail_before_list   call a detail tool (one with `requires_called`, or a "$param"
                         requirement) before a call of the tool it needs
    bad_argument         pass a contract-relevant argument that the required tool did not
                         produce: a program parameter, a literal, a changed or other field
    replace_navigation   navigate somewhere else instead (another navigating tool of the site)

A block left empty gets `pass`. Mutants equal to their original, or to an earlier mutant, are
discarded. Many mutants do not compile (a moved call uses a name defined later); the harness
counts those as rejected by the frontend.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from program_text import (
    CallSite,
    Chunk,
    Program,
    reindent,
    render,
)

from agentjit.tools import Tool, load_site
from agentjit.tools.state import param_ref

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KINDS = (
    "swap_calls",
    "drop_navigation",
    "move_out_of_branch",
    "shift_call",
    "detail_before_list",
    "bad_argument",
    "replace_navigation",
)
LITERALS = {"str": ('"HDMI cable"', '"No such product"'), "int": ("1", "999")}
"""Stand-in arguments: one value a site may well show, one it never does."""


@dataclass(frozen=True)
class Mutant:
    program: str
    """The example's file name."""
    kind: str
    description: str
    source: str


# ---- the kinds ------------------------------------------------------------------------------


def _short(chunk: Chunk) -> str:
    text = " ".join(chunk.text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _line(p: Program, i: int) -> int:
    return 1 + sum(len(c.lines) for c in p.parts[:i])


def units(p: Program) -> list[tuple[int, int]]:
    """Statement ranges [start, end) that call a tool: simple statements, and whole compound
    statements (an if/elif/else chain, a loop) with a call in their header or body."""
    out = [(i, i + 1) for i in p.call_statements()]
    for h in p.statements:
        if p.parts[h].keyword not in ("if", "for", "while"):
            continue
        end = p.last_statement(h) + 1
        if any(p.calls(j) for j in range(h, end) if not p.parts[j].trivia):
            out.append((h, end))
    return sorted(out)


def shifted(parts: list[Chunk], indent: int) -> list[Chunk]:
    """A run of chunks moved so that its first statement sits at `indent`."""
    first = next(c for c in parts if not c.trivia)
    delta = indent - first.indent
    return [c if c.trivia else reindent(c, c.indent + delta) for c in parts]


def swap_calls(p: Program) -> Iterator[tuple[str, str]]:
    spans = units(p)
    for a0, a1 in spans:
        for b0, b1 in spans:
            if b0 < a1 or p.function_of(a0) != p.function_of(b0):
                continue
            first, second = p.parts[a0:a1], p.parts[b0:b1]
            new = [
                *p.parts[:a0],
                *shifted(second, p.parts[a0].indent),
                *p.parts[a1:b0],
                *shifted(first, p.parts[b0].indent),
                *p.parts[b1:],
            ]
            yield (
                f"swap line {_line(p, a0)} `{_short(p.parts[a0])}`"
                f"{' (block)' if a1 - a0 > 1 else ''} with line {_line(p, b0)} "
                f"`{_short(p.parts[b0])}`{' (block)' if b1 - b0 > 1 else ''}",
                render(new),
            )


def drop_navigation(p: Program) -> Iterator[tuple[str, str]]:
    """Delete a statement that navigates; a navigation whose list result is used becomes `[]`."""
    for i in p.call_statements():
        chunk = p.parts[i]
        navigating = [c for c in p.calls(i) if p.tools[c.tool].signature.effects.navigates]
        if navigating:
            yield f"drop line {_line(p, i)} `{_short(chunk)}`", p.edit({i: []})
    for i in p.statements:
        chunk = p.parts[i]
        for call in p.calls(i):
            sig = p.tools[call.tool].signature
            if sig.effects.navigates and str(sig.result).startswith("list<"):
                text = chunk.text[: call.start] + "[]" + chunk.text[call.end :]
                new = replace(chunk, lines=tuple(text.splitlines(True)))
                yield (
                    f"line {_line(p, i)}: [] instead of navigating {call.tool}()",
                    p.edit({i: [new]}),
                )


def move_out_of_branch(p: Program) -> Iterator[tuple[str, str]]:
    """Out of each enclosing block in turn, before the compound statement or after it; or all
    the way to the top of the function."""
    for i in p.call_statements():
        chunk = p.parts[i]
        header = p.enclosing_header(i)
        if header is not None:
            func = p.function_of(i)
            body = min(j for j in p.statements if j > func)
            moved = reindent(chunk, p.parts[body].indent)
            desc = f"move line {_line(p, i)} `{_short(chunk)}` to the top of the function"
            yield desc, p.edit({body: [moved, p.parts[body]], i: []})
        while header is not None:
            top = p.chain_start(header)
            moved = reindent(chunk, p.parts[top].indent)
            where = f"line {_line(p, i)} `{_short(chunk)}` out of the `{p.parts[header].keyword}`"
            where += f" on line {_line(p, header)}"
            yield f"move {where}, before it", p.edit({top: [moved, p.parts[top]], i: []})
            end = p.compound_end(header)
            after = {i: [], end: [moved, *([p.parts[end]] if end < len(p.parts) else [])]}
            yield f"move {where}, after it", p.edit(after)
            header = p.enclosing_header(top)


def shift_call(p: Program) -> Iterator[tuple[str, str]]:
    """Move a tool-calling statement (or a whole if/for that calls a tool) one or two statements
    up or down within its block (by one to three)."""
    for start, end in units(p):
        block = p.siblings(start)
        pos = block.index(start)
        moved = p.parts[start:end]
        gone: dict[int, list[Chunk]] = {j: [] for j in range(start, end)}
        what = f"line {_line(p, start)} `{_short(p.parts[start])}`"
        what += " (block)" if end - start > 1 else ""
        for k in (-3, -2, -1, 1, 2, 3):
            if not 0 <= pos + k < len(block):
                continue
            target = block[pos + k]
            way = f"{'up' if k < 0 else 'down'} past {abs(k)} statement{'s' * (abs(k) > 1)}"
            if k < 0:
                edit = {**gone, target: [*moved, p.parts[target]]}
            else:
                last = p.last_statement(target) if p.parts[target].header else target
                edit = {**gone, last: [p.parts[last], *moved]}
            yield f"move {what} {way}", p.edit(edit)


def needs(tool: Tool, site_tools: dict[str, Tool]) -> set[str]:
    """The tools a call of `tool` depends on: `requires_called` producers, and the tools whose
    `ensures` set a field this tool requires to equal one of its arguments."""
    out = {p for producers in tool.contract.requires_called.values() for p in producers}
    for name, pattern in tool.contract.requires.items():
        if param_ref(pattern) is None:
            continue
        for other, spec in site_tools.items():
            if "." not in other and param_ref(spec.contract.ensures.get(name)) is not None:
                out.add(other)
    return out


def contract_args(tool: Tool) -> set[str]:
    """The arguments a contract speaks about: `requires_called` ones and "$param" references."""
    out = set(tool.contract.requires_called)
    for pattern in [*tool.contract.requires.values(), *tool.contract.ensures.values()]:
        ref = param_ref(pattern)
        if ref is not None and ref != "result":
            out.add(ref)
    return out


def _param_type(tool: Tool, arg: str) -> str:
    param = tool.signature.param(arg)
    return str(param.type) if param is not None else "any"


def stand_ins(p: Program, func: int, type_name: str, original: str) -> list[str]:
    """Replacement expressions of a type: the function's parameters, then literals."""
    params = [n for n, t in p.params(func) if t.strip() == type_name and n != original]
    return [*params, *(v for v in LITERALS.get(type_name, ()) if v != original)]


def _names(expr: str) -> set[str]:
    words = set(
        re.findall(r"(?<![\w.\"'])([A-Za-z_]\w*)", re.sub(r"(\"[^\"]*\"|'[^']*')", "", expr))
    )
    return {w for w in words if not keyword.iskeyword(w)}


def detail_before_list(p: Program) -> Iterator[tuple[str, str]]:
    """A copy of a detail call, inserted before any statement up to the last call of a tool it
    needs (so before the list, or on the right page but before the list was read)."""
    for d in p.call_statements():
        func = p.function_of(d)
        for call in p.calls(d):
            wanted = needs(p.tools[call.tool], p.tools)
            producers = [
                j
                for j in p.statements
                if func < j < d and {c.tool.rsplit(".", 1)[-1] for c in p.calls(j)} & wanted
            ]
            if not producers:
                continue
            for at in (j for j in p.statements if func < j <= producers[-1]):
                yield from _hoisted(p, d, call, at)


def _hoisted(p: Program, d: int, call: CallSite, lst: int) -> Iterator[tuple[str, str]]:
    """Copies of `call` inserted before statement `lst`, with arguments not yet defined there
    replaced by stand-ins (one mutant per stand-in of the contract argument)."""
    known = p.defined_before(lst)
    func = p.function_of(d)
    tool = p.tools[call.tool]
    name = call.tool
    relevant = contract_args(tool)
    variants: list[dict[str, str]] = [{}]
    for arg, expr in call.args:
        if not arg or _names(expr) <= known:
            continue
        choices = stand_ins(p, func, _param_type(tool, arg), expr)
        if not choices:
            return
        picks = choices if arg in relevant else choices[-1:]
        variants = [{**v, arg: c} for v in variants for c in picks]
    target = p.parts[lst]
    for subst in variants[:4]:
        args = ", ".join(f"{k}={subst.get(k, e)}" if k else e for k, e in call.args)
        text = " " * target.indent + f"{name}({args})\n"
        inserted = Chunk((text,), target.indent, "")
        desc = (
            f"call `{name}({args})` (as on line {_line(p, d)}) before line {_line(p, lst)} "
            f"`{_short(target)}`"
        )
        yield desc, p.edit({lst: [inserted, target]})


def bad_argument(p: Program) -> Iterator[tuple[str, str]]:
    for i in p.call_statements():
        chunk = p.parts[i]
        text = chunk.text
        for call in p.calls(i):
            tool = p.tools[call.tool]
            for arg, expr in call.args:
                if arg not in contract_args(tool):
                    continue
                for alt in _bad_values(p, p.function_of(i), _param_type(tool, arg), expr):
                    new = _replace_arg(text, call, arg, alt)
                    if new == text:
                        continue
                    source = p.edit({i: [replace(chunk, lines=tuple(new.splitlines(True)))]})
                    yield f"line {_line(p, i)}: {call.tool}({arg}={alt}) instead of {expr}", source


def _bad_values(p: Program, func: int, type_name: str, expr: str) -> list[str]:
    out = stand_ins(p, func, type_name, expr)
    if type_name == "str":
        out += [f"upper({expr})", f"lower({expr})", f"strip({expr})"]
        out += [f'{expr} + " (used)"', f'{expr} + ""']
        if expr.endswith(".title"):
            out.append(expr[: -len("title")] + "url")
    elif type_name == "int":
        out += [f"{expr} + 1", f"{expr} - 1", f"{expr} * 1"]
    return out


def _replace_arg(text: str, call: CallSite, arg: str, alt: str) -> str:
    segment = text[call.start : call.end]
    m = re.search(rf"(?<![\w.]){arg}\s*=(?!=)\s*", segment)
    if m is None:
        return text
    begin = call.start + m.end()
    old = dict(call.args)[arg]
    assert text.startswith(old, begin), (text[begin:], old)
    return text[:begin] + alt + text[begin + len(old) :]


def replace_navigation(p: Program) -> Iterator[tuple[str, str]]:
    """A navigation statement (not an assignment) goes somewhere else instead."""
    for i in p.call_statements():
        chunk = p.parts[i]
        func = p.function_of(i)
        for call in p.calls(i):
            tool = p.tools[call.tool]
            if not tool.signature.effects.navigates or "=" in chunk.text[: call.start]:
                continue
            for other in _plain_navigations(p, tool.signature.site):
                if other.signature.name == tool.signature.name:
                    continue
                args = ", ".join(
                    f"{prm.name}={stand_ins(p, func, str(prm.type), '')[0]}"
                    for prm in other.signature.params
                    if prm.required
                )
                replacement = f"{other.signature.name}({args})"
                text = chunk.text[: call.start] + replacement + chunk.text[call.end :]
                new = replace(chunk, lines=tuple(text.splitlines(True)))
                desc = f"line {_line(p, i)}: {replacement} instead of {call.tool}(...)"
                yield desc, p.edit({i: [new]})


def _plain_navigations(p: Program, site: str) -> list[Tool]:
    """Navigating tools of `site` that write nothing and have no contract requirements."""
    return sorted(
        (
            tool
            for name, tool in p.tools.items()
            if "." not in name
            and tool.signature.site == site
            and tool.signature.effects.navigates
            and not tool.signature.effects.writes
            and not tool.contract.requires
            and not tool.contract.requires_called
        ),
        key=lambda t: t.signature.name,
    )


MUTATORS = {
    "swap_calls": swap_calls,
    "drop_navigation": drop_navigation,
    "move_out_of_branch": move_out_of_branch,
    "shift_call": shift_call,
    "detail_before_list": detail_before_list,
    "bad_argument": bad_argument,
    "replace_navigation": replace_navigation,
}


# ---- the corpus -----------------------------------------------------------------------------


def site_programs(directory: Path = EXAMPLES) -> list[Program]:
    """The examples that use at least one site, sorted by name."""
    out = []
    for path in sorted(directory.glob("*.agent")):
        source = path.read_text(encoding="utf-8")
        uses = re.findall(r"^use\s+(\w+)", source, re.M)
        sites = [s for s in (load_site(u) for u in uses) if s is not None]
        if sites:
            out.append(Program(path.name, source, sites))
    return out


def generate(programs: list[Program] | None = None) -> list[Mutant]:
    """Every distinct mutant of every site-using example, in a fixed order."""
    seen: set[str] = set()
    out: list[Mutant] = []
    for program in programs if programs is not None else site_programs():
        seen.add(program.source)
        for kind, mutate in MUTATORS.items():
            for description, source in mutate(program):
                if source not in seen:
                    seen.add(source)
                    out.append(Mutant(program.name, kind, description, source))
    return out


def sample(mutants: list[Mutant], size: int) -> list[Mutant]:
    """A deterministic, evenly spread sample of about `size` mutants."""
    if size >= len(mutants):
        return list(mutants)
    step = len(mutants) / size
    return [mutants[int(i * step)] for i in range(size)]


if __name__ == "__main__":
    from collections import Counter

    corpus = generate()
    print(f"{len(corpus)} mutants")
    for kind, n in Counter(m.kind for m in corpus).items():
        print(f"  {kind:20} {n}")
