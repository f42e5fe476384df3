"""Program text for the mutation corpus: statements as chunks, tool calls and their arguments.

`bench/mutations.py` edits programs through these: `chunks` splits a program into statements
(Python's tokenizer finds the logical lines), `find_calls` locates tool calls and their keyword
arguments, and `Program` ties one example to its sites and tools.
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from agentjit.tools import Site, Tool

COMPOUND = ("if", "elif", "else", "for", "while", "def")


@dataclass(frozen=True)
class Chunk:
    """A statement (its physical lines, first indentation, first keyword) or blank/comment lines."""

    lines: tuple[str, ...]
    indent: int
    keyword: str = ""
    trivia: bool = False

    @property
    def text(self) -> str:
        return "".join(self.lines)

    @property
    def header(self) -> bool:
        return self.keyword in COMPOUND


@dataclass(frozen=True)
class CallSite:
    """One tool call inside a statement's text: the tool and its `name=expr` arguments."""

    tool: str
    start: int
    end: int
    args: tuple[tuple[str, str], ...]


# ---- splitting a program --------------------------------------------------------------------


def chunks(source: str) -> list[Chunk]:
    """The program as statements and trivia, in order (concatenated, they give `source`)."""
    lines = source.splitlines(keepends=True)
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    first = ""
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in skip or tok.type == tokenize.ENDMARKER:
            continue
        if tok.type == tokenize.NEWLINE:
            assert start is not None
            spans.append((start, tok.start[0], first))
            start = None
        elif start is None:
            start, first = tok.start[0] - 1, tok.string
    out: list[Chunk] = []
    pos = 0
    for begin, end, first in spans:
        if begin > pos:
            out.append(Chunk(tuple(lines[pos:begin]), 0, trivia=True))
        body = tuple(lines[begin:end])
        word = first if keyword.iskeyword(first) else ""
        out.append(Chunk(body, len(body[0]) - len(body[0].lstrip(" ")), word))
        pos = end
    if pos < len(lines):
        out.append(Chunk(tuple(lines[pos:]), 0, trivia=True))
    return out


def render(items: list[Chunk]) -> str:
    """The program's text, with `pass` in every block an edit left empty."""
    return "".join(_texts(items))


def _texts(items: list[Chunk]) -> Iterator[str]:
    stmts = [c for c in items if not c.trivia]
    empty = {
        id(c)
        for c, nxt in zip(stmts, [*stmts[1:], None], strict=True)
        if c.header and (nxt is None or nxt.indent <= c.indent)
    }
    for c in items:
        yield c.text
        if id(c) in empty:
            yield " " * (c.indent + 4) + "pass\n"


def reindent(chunk: Chunk, indent: int) -> Chunk:
    """`chunk` moved to `indent`; continuation lines shift with it (text inside a triple-quoted
    string that starts left of the statement stays put)."""
    delta = indent - chunk.indent
    if delta == 0:
        return chunk
    lines = []
    for line in chunk.lines:
        lead = len(line) - len(line.lstrip(" "))
        if line.strip() and lead >= chunk.indent:
            line = " " * (lead + delta) + line[lead:]
        lines.append(line)
    return replace(chunk, lines=tuple(lines), indent=indent)


# ---- finding calls --------------------------------------------------------------------------


def _closing(text: str, open_at: int) -> int:
    """The index just after the bracket matching the one at `open_at` (skipping strings)."""
    depth, i = 0, open_at
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _string_end(text, i)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def _string_end(text: str, i: int) -> int:
    quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else text[i]
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text.startswith(quote, j):
            return j + len(quote)
        j += 1
    return len(text)


def split_args(inner: str) -> tuple[tuple[str, str], ...]:
    """`a=1, b=f(x, y)` -> (("a", "1"), ("b", "f(x, y)")); positional args get key ""."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(inner):
        ch = inner[i]
        if ch in "\"'":
            i = _string_end(inner, i)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
        i += 1
    parts.append(inner[start:])
    out = []
    for part in (p.strip() for p in parts):
        m = re.match(r"([A-Za-z_]\w*)\s*=(?!=)\s*(.*)", part, re.S)
        if m:
            out.append((m.group(1), m.group(2).strip()))
        elif part:
            out.append(("", part))
    return tuple(out)


def find_calls(text: str, tools: dict[str, Tool]) -> list[CallSite]:
    """The tool calls in a statement's text (`name(...)` or `site.name(...)`)."""
    out = []
    for m in re.finditer(r"(?<![\w.])(?:(\w+)\.)?(\w+)\s*\(", text):
        site, name = m.group(1), m.group(2)
        qualified = f"{site}.{name}" if site else None
        key = qualified if qualified in tools else name if not site and name in tools else None
        if key is None or _in_string(text, m.start()):
            continue
        end = _closing(text, m.end() - 1)
        out.append(CallSite(key, m.start(), end, split_args(text[m.end() : end - 1])))
    return out


def _in_string(text: str, pos: int) -> bool:
    i = 0
    while i < pos:
        if text[i] in "\"'":
            j = _string_end(text, i)
            if j > pos:
                return True
            i = j
            continue
        i += 1
    return False


# ---- one program ----------------------------------------------------------------------------


@dataclass
class Program:
    """An example, split into chunks, with the tools of the sites it uses."""

    name: str
    source: str
    sites: list[Site]
    parts: list[Chunk] = field(init=False)
    tools: dict[str, Tool] = field(init=False)
    """Tool name (bare and `site.name`) -> tool."""

    def __post_init__(self) -> None:
        self.parts = chunks(self.source)
        self.tools = {}
        for site in self.sites:
            for name, tool in site.tools.items():
                self.tools[name] = tool
                self.tools[f"{site.name}.{name}"] = tool

    @property
    def statements(self) -> list[int]:
        return [i for i, c in enumerate(self.parts) if not c.trivia]

    def calls(self, i: int) -> list[CallSite]:
        return find_calls(self.parts[i].text, self.tools)

    def call_statements(self) -> list[int]:
        """Simple statements (not headers) that call a tool."""
        return [i for i in self.statements if not self.parts[i].header and self.calls(i)]

    def function_of(self, i: int) -> int:
        """The index of the `def` enclosing statement i (-1 before the first `def`)."""
        defs = [j for j in self.statements if j <= i and self.parts[j].keyword == "def"]
        return defs[-1] if defs else -1

    def enclosing_header(self, i: int) -> int | None:
        """The nearest header whose block holds statement i (None at function level)."""
        indent = self.parts[i].indent
        for j in reversed(self.statements):
            if j < i and self.parts[j].indent < indent:
                return j if self.parts[j].keyword != "def" else None
        return None

    def chain_start(self, header: int) -> int:
        """For an `elif`/`else` header, the `if` that starts its chain."""
        j = header
        while self.parts[j].keyword in ("elif", "else"):
            indent = self.parts[j].indent
            j = max(k for k in self.statements if k < j and self.parts[k].indent == indent)
        return j

    def siblings(self, i: int) -> list[int]:
        """The statements of the block holding statement i, in order (an if/elif/else chain
        counts once, by its `if`)."""
        header, func, indent = self.enclosing_header(i), self.function_of(i), self.parts[i].indent
        return [
            j
            for j in self.statements
            if self.parts[j].indent == indent
            and self.parts[j].keyword not in ("elif", "else", "def")
            and self.function_of(j) == func
            and self.enclosing_header(j) == header
        ]

    def last_statement(self, header: int) -> int:
        """The last statement of the compound statement `header` starts (its whole chain)."""
        end = self.compound_end(header)
        return max(j for j in self.statements if j < end)

    def compound_end(self, header: int) -> int:
        """The index just after the compound statement (the whole if/elif/else chain)."""
        indent = self.parts[header].indent
        for j in self.statements:
            if j <= header or self.parts[j].indent > indent:
                continue
            if self.parts[j].keyword in ("elif", "else") and self.parts[j].indent == indent:
                continue
            return j
        return len(self.parts)

    def params(self, func: int) -> list[tuple[str, str]]:
        """(name, type text) of the function's parameters."""
        text = self.parts[func].text
        open_at = text.index("(")
        inner = text[open_at + 1 : _closing(text, open_at) - 1]
        out = []
        for _, part in split_args(inner):
            m = re.match(r"(\w+)\s*:\s*([^=]+?)\s*(?:=.*)?$", part, re.S)
            if m:
                out.append((m.group(1), m.group(2)))
        return out

    def defined_before(self, i: int) -> set[str]:
        """Names bound before statement i in its function (parameters, assignments, loops)."""
        func = self.function_of(i)
        names = {n for n, _ in self.params(func)}
        for j in self.statements:
            if func < j < i:
                m = re.match(r"\s*(?:for\s+)?(\w+)\s*(?:[-+*/]?=(?!=)|\s+in\s)", self.parts[j].text)
                if m:
                    names.add(m.group(1))
        return names

    def edit(self, changes: dict[int, list[Chunk]]) -> str:
        """The source with chunk i replaced by changes[i] (an empty list deletes it)."""
        out: list[Chunk] = []
        for i, c in enumerate(self.parts):
            out.extend(changes.get(i, [c]))
        return render(out)
