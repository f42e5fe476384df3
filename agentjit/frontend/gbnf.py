"""A llama.cpp GBNF grammar for the DSL, generated from grammar.lark.

A local model constrained by `dsl_gbnf()` can only write text that our Lark parser accepts: a
subset of the language, never more. The grammar is derived from grammar.lark by walking Lark's
own grammar trees, so it follows the DSL; only what GBNF cannot say, and the shape that keeps
llama.cpp's sampler fast, is decided by the generator:

* agentjit.frontend.gbnf_source reads grammar.lark: rules, tokens as characters (a keyword-free
  NAME), and the one spelling offered between two tokens (exactly one space or none).
* agentjit.frontend.gbnf_shape rewrites the rules without changing their languages: left
  recursion becomes iteration, precedence levels are joined into one loop over operators, a
  shared leading identifier is taken out in front, rules are split by the spacing after them.
* agentjit.frontend.gbnf_nodes holds the expressions and writes GBNF text in the shape
  llama.cpp's sampler is fastest with (its module doc says why: one stack per open way).
* Here, layout and output. The indenter makes `_NEWLINE`, `_INDENT` and `_DEDENT` out of line
  breaks, and GBNF is context-free, so a rule containing layout tokens is instantiated per (depth,
  at line start): a token at line start is indented four spaces per level, `_NEWLINE` writes
  "\\n" and puts us at line start, `_INDENT`/`_DEDENT` change the depth. Layout-free rules are
  written once. Every instance must end in one state and repetitions must come back to where
  they started, else `GbnfError`. Blocks deeper than `max_depth` are not offered; lines repeat at
  most `max_statements` times; newlines inside brackets are not offered. The start rule
  `(a | b | _NEWLINE)*` is offered as up to three `a` then one to four `b` with optional blank
  lines, so outputs are ordered and finite. Spaces are written between tokens as
  gbnf_source decides; where that depends on whether an optional part is there (`"not"* x`), the
  part carries the space after it. Single tokens that are alternatives of one choice are written
  as one rule, so llama.cpp follows one way per first character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache

from agentjit.frontend.gbnf_nodes import (
    Alt,
    Analysis,
    GbnfError,
    Node,
    Ref,
    Rep,
    Seq,
    Tok,
    Writer,
    alternatives,
    bare,
    join,
    lit,
    walk,
    widest_last,
)
from agentjit.frontend.gbnf_shape import Splitter, factor, layout_rules, mentions
from agentjit.frontend.gbnf_source import Source, base

__all__ = ["GbnfError", "dsl_gbnf"]

INDENT = "    "
MAX_PREAMBLE, MAX_DEFINITIONS = 3, 4


def _gbnf_name(name: str) -> str:
    return re.sub("-+", "-", name.lower().replace("_", "-")).strip("-")


def _opening(parts: list[str]) -> str:
    return next((p for p in parts if p), "")


# ---- writing GBNF: layout states, separators, rule instances -----------------------------------

State = tuple[int, bool]  # (indentation depth, at the start of a line)
MID: State = (0, False)


@dataclass
class Out:
    parts: list[str]
    state: State
    ctx: frozenset[str]  # the tokens that may come last before what follows on this line
    first: frozenset[str] = frozenset()  # the tokens it may start with (for ordering)


class Emitter:
    """Walks the rules from the start rule, tracking the layout state, and collects GBNF rules."""

    def __init__(self, src: Source, max_depth: int, max_statements: int) -> None:
        self.src, self.max_depth, self.max_statements = src, max_depth, max_statements
        words = [n for n, t in src.tokens.items() if t.word is not None]
        split = Splitter(src.rules, set(src.layout), src.spaced).run()
        self.rules = factor(split, words)
        self.an = Analysis(self.rules)
        self.layout = set(src.layout)
        self.layout_rules = layout_rules(self.rules, self.layout)
        self.writer = Writer()
        self.out = self.writer.rules
        self.owner: dict[str, object] = {}
        self.done: dict[object, tuple[str, State] | str | None] = {}
        self.token_rules: dict[tuple[str, ...], str] = {}
        self.loops: dict[tuple[str, str], str] = {}  # loops that may end in an option
        self.current = "root"  # the rule being written, which owns its helper rules

    def name(self, key: object, base_name: str) -> str:
        """The GBNF rule name of a Lark rule (instance), reserved in output order."""
        name = _gbnf_name(base_name)
        taken = name in self.out and name not in self.owner  # by a helper rule
        if taken or not re.fullmatch("[a-z][a-z0-9-]*", name):
            raise GbnfError(f"no usable GBNF name for {key} ({name!r})")
        if self.owner.setdefault(name, key) != key:
            raise GbnfError(f"no usable GBNF name for {key} ({name!r})")
        self.out.setdefault(name, "")
        return name

    def sep(self, ctx: frozenset[str], firsts: frozenset[str]) -> str:
        """What goes between a token of `ctx` and one of `firsts` on one line."""
        real = firsts - self.layout
        if not real or not ctx:
            return ""
        if real != firsts:
            raise GbnfError(f"cannot tell whether a token or a line break follows {sorted(ctx)}")
        spaced = {self.src.spaced(a, b) for a in sorted(ctx) for b in sorted(real)}
        if len(spaced) > 1:
            raise GbnfError(f"some tokens of {sorted(ctx)} need a space before {sorted(real)}")
        return '" "' if True in spaced else ""

    def lead(self, state: State, ctx: frozenset[str], firsts: frozenset[str]) -> str:
        if state[1]:
            return lit(INDENT * state[0]) if state[0] else ""
        return self.sep(ctx, firsts)

    def emit(self, node: Node, state: State, ctx: frozenset[str]) -> Out | None:
        """`node` written from `state` after `ctx`; None when it cannot be offered (too deep)."""
        if isinstance(node, Tok):
            return self.token(node.name, state, ctx)
        if isinstance(node, Ref) and isinstance(self.rules[node.name], Tok):
            return self.emit(self.rules[node.name], state, ctx)  # one level less in every stack
        if isinstance(node, Ref):
            return self.ref(node.name, state, ctx)
        if isinstance(node, Rep):
            return self.repeat(node, state, ctx)
        if isinstance(node, Alt):
            return self.choice(node.items, state, ctx)
        return self.sequence(node.items, state, ctx)  # type: ignore[union-attr]

    def sequence(self, items: Sequence[Node], state: State, ctx: frozenset[str]) -> Out | None:
        parts: list[str] = []
        first: frozenset[str] = frozenset()
        i = 0
        while i < len(items):
            out, used = self.part(items, i, state, ctx)
            if out is None:
                return None
            first = first or out.first
            parts, state, ctx, i = parts + out.parts, out.state, out.ctx, i + used
        return Out(parts, state, ctx, first)

    def part(
        self, items: Sequence[Node], i: int, state: State, ctx: frozenset[str]
    ) -> tuple[Out | None, int]:
        """The next part of a sequence, from `items[i]`, and how many items it took."""
        item, rest = items[i], Seq(tuple(items[i + 1 :]))
        if not state[1] and self.an.nullable(item) and self.carried(item, rest, ctx):
            return self.carry(item, rest, state, ctx), 1
        if i + 1 < len(items) and (out := self.loop_then_option(item, items[i + 1], state, ctx)):
            return out, 2
        return self.emit(item, state, ctx), 1

    def loop_then_option(
        self, loop: Node, option: Node, state: State, ctx: frozenset[str]
    ) -> Out | None:
        """`x* y?` as `r ::= | x r | y`, when both open alike (`("," a)* ","?`): one way goes
        on after the common opening instead of two (None: not this case)."""
        if not (isinstance(loop, Rep) and isinstance(option, Rep) and not state[1]):
            return None
        if (loop.lo, loop.hi, option.lo, option.hi) != (0, None, 0, 1) or self.has_layout(loop):
            return None
        again = ctx | self.an.edge(loop.body, -1)
        outs = [self.emit(x, state, c) for x in (loop.body, option.body) for c in (ctx, again)]
        if None in outs or outs[0].parts != outs[1].parts or outs[2].parts != outs[3].parts:
            return None
        x, y = outs[1], outs[3]
        if _opening(x.parts) != _opening(y.parts):
            return None
        key = (join(x.parts), join(y.parts))
        if key not in self.loops:
            rule = self.loops[key] = self.writer.fresh(f"{self.current}-loop")
            ways = [replace(x, parts=[*x.parts, rule]), y]
            self.out[rule] = "| " + bare(join(self.alternation(ways)))
        return Out([self.loops[key]], state, again | y.ctx, x.first | y.first)

    def has_layout(self, node: Node) -> bool:
        return any(mentions(n, self.layout | self.layout_rules) for n in walk(node))

    def carried(self, item: Node, rest: Seq, ctx: frozenset[str]) -> bool:
        """Does the space before `rest` depend on whether the optional `item` is there?"""
        if self.an.nullable(rest):
            if not ctx:
                raise GbnfError(f"a rule may not open with an optional part here: {item}")
            return False
        follow, last = self.an.edge(rest, 0), self.an.edge(item, -1)
        return not ctx or any(self.spacing(ctx, b) != self.spacing(last, b) for b in follow)

    def spacing(self, ctx: frozenset[str], b: str) -> set[bool]:
        return {self.src.spaced(a, b) for a in ctx}

    def carry(self, item: Node, rest: Seq, state: State, ctx: frozenset[str]) -> Out | None:
        """An optional part that carries the space after it (`( | "not" " ") x`), with the
        space for its absence as the other alternative; what follows starts afresh."""
        if not isinstance(item, Rep):
            raise GbnfError(f"cannot space around the optional part {item}")
        follow = self.an.edge(rest, 0)
        present = self.emit(Rep(item.body, 1, item.hi), state, ctx)
        if present is None:
            return Out([], state, ctx)
        after, absent = self.sep(self.an.edge(item, -1), follow), self.sep(ctx, follow)
        parts = [*present.parts, after]
        shared = absent if absent and _opening(parts) == absent else ""
        if shared:  # `(" " | " " "-"+)` -> `" " ( | "-"+)`
            parts = parts[parts.index(shared) + 1 :]
        ways = [
            Out(["" if shared else absent], MID, frozenset(), follow),
            Out(parts, MID, ctx, present.first),
        ]
        ordered = [join(o.parts) for o in widest_last(ways, self.width)]  # mostly absent
        return Out(
            [join([shared, f"({ordered[0]} | {ordered[1]})"])],
            present.state,
            frozenset(),
            present.first,
        )

    def choice(self, items: Sequence[Node], state: State, ctx: frozenset[str]) -> Out | None:
        """Alternatives; those that are single tokens become one token (see the module doc)."""
        bare: dict[str, list[str]] = {}
        for i in items:
            if isinstance(i, Tok) and i.name not in self.layout:
                bare.setdefault(self.lead(state, ctx, frozenset({i.name})), []).append(i.name)
        rest = [i for i in items if not (isinstance(i, Tok) and i.name not in self.layout)]
        outs = [self.tokens(names, state, ctx) for names in bare.values()]
        outs = [o for o in outs + [self.emit(i, state, ctx) for i in rest] if o]
        if len({o.state for o in outs}) > 1:
            raise GbnfError(f"alternatives end in different layout states: {items}")
        if not outs:
            return None
        ctx = frozenset().union(*(o.ctx for o in outs))
        first = frozenset().union(*(o.first for o in outs))
        return Out(self.alternation(outs), outs[0].state, ctx, first)

    def alternation(self, outs: list[Out]) -> list[str]:
        """`(a | b)`, widest last; alternatives that open alike share the opening
        (`"," " " x | ","` -> `"," (" " x | )`)."""
        openings = [_opening(o.parts) for o in outs]
        for shared in dict.fromkeys(openings):
            alike = [o for o, p in zip(outs, openings, strict=True) if p == shared]
            if shared and len(alike) > 1:
                inner = [replace(o, parts=o.parts[o.parts.index(shared) + 1 :]) for o in alike]
                first = frozenset().union(*(o.first for o in alike))
                merged = Out([shared, *self.alternation(inner)], MID, frozenset(), first)
                return self.alternation([o for o in outs if o not in alike] + [merged])
        if len(outs) == 1:
            return outs[0].parts
        return ["(" + " | ".join(join(o.parts) for o in widest_last(outs, self.width)) + ")"]

    def width(self, out: Out) -> int:
        """How many first characters an alternative has; a space counts as the widest, since
        most of a BPE vocabulary starts with one."""
        if _opening(out.parts) == '" "':
            return 1 << 20
        firsts = [self.src.token(t).firsts for t in out.first if base(t) in self.src.tokens]
        return len(frozenset().union(*firsts))

    def tokens(self, names: list[str], state: State, ctx: frozenset[str]) -> Out:
        token = self.src.token(names[0])
        if len(names) == 1 and token.fixed is not None:
            text = lit(token.fixed)
        else:
            key = tuple(base(n) for n in names)
            if key not in self.token_rules:
                label = f"tok-{key[0]}" if len(key) == 1 else f"{self.current}-tokens"
                rule = self.token_rules[key] = self.writer.fresh(_gbnf_name(label))
                self.out[rule] = bare(self.writer.chars(self.src.chars(names), rule))
            text = self.token_rules[key]
        lead = self.lead(state, ctx, frozenset(names))
        return Out([lead, text], (state[0], False), frozenset(names), frozenset(names))

    def token(self, name: str, state: State, ctx: frozenset[str]) -> Out | None:
        newline, indent, dedent = self.src.layout
        depth = state[0] + (name == indent) - (name == dedent)
        if name == newline:
            return Out([lit("\n")], (depth, True), frozenset())
        if name in (indent, dedent):
            if not state[1] or depth < 0:
                raise GbnfError(f"{name} where the indenter cannot produce it")
            return Out([], (depth, True), frozenset()) if depth <= self.max_depth else None
        return self.tokens([name], state, ctx)

    def ref(self, name: str, state: State, ctx: frozenset[str]) -> Out | None:
        if self.an.nullable(Ref(name)):
            raise GbnfError(f"rule {name!r} can be empty, which only the start rule may be")
        first, last = self.an.edge(Ref(name), 0), self.an.edge(Ref(name), -1)
        layout = name in self.layout_rules
        key = (name, state if layout else None)
        if key not in self.done:
            self.define(name, key, state, layout)
        found = self.done[key]
        if found == "busy":
            raise GbnfError(f"rule {name!r} recurses without changing the indentation")
        if found is None:
            return None
        rule, end = found  # type: ignore[misc]
        if not layout:
            return Out([self.lead(state, ctx, first), rule], (state[0], False), last, first)
        lead = "" if state[1] else self.sep(ctx, first)  # an instance indents its first token
        return Out([lead, rule], end, frozenset() if end[1] else last, first)

    def define(self, name: str, key: object, state: State, layout: bool) -> None:
        base_name = f"{name}-{'l' if state[1] else 'm'}{state[0]}" if layout else name
        rule = self.name(key, base_name)
        self.done[key] = "busy" if layout else (rule, MID)
        outer, self.current = self.current, rule
        out = self.emit(self.rules[name], state if layout else MID, frozenset())
        self.current = outer
        if out is not None and not layout and out.state != MID:
            raise GbnfError(f"rule {name!r} is inconsistent")
        self.done[key] = out and (rule, out.state if layout else MID)
        self.out.update({rule: bare(join(out.parts))}) if out else self.out.pop(rule)

    def repeat(self, node: Rep, state: State, ctx: frozenset[str]) -> Out | None:
        hi = node.hi
        if hi is None and self.has_layout(node):
            hi = self.max_statements  # lines repeat a bounded number of times
        first = self.emit(node.body, state, ctx)
        if first is None:
            return Out([], state, ctx) if node.lo == 0 else None
        again = frozenset() if state[1] else self.an.edge(node.body, -1)
        later = first if hi == 1 else self.emit(node.body, state, again)
        if {first.state, later.state} != {state}:  # type: ignore[union-attr]
            raise GbnfError(f"a repetition starts in layout state {state}, ends in another")
        ends = (ctx if node.lo == 0 else frozenset()) | first.ctx | later.ctx  # type: ignore
        if first.parts == later.parts:  # type: ignore[union-attr]
            text = self.writer.repeat(join(first.parts), node.lo, hi, self.current)
            return Out([text], state, ends, first.first)
        more_hi = None if hi is None else hi - 1
        more = self.writer.repeat(join(later.parts), max(node.lo - 1, 0), more_hi, self.current)
        if node.lo:
            return Out([*first.parts, more], state, ends, first.first)
        return Out([f"( | {join([*first.parts, more])})"], state, ends, first.first)

    def program(self, fence: str | None) -> None:
        """root and program: the start rule `(a | b | _NEWLINE)*` as `a{0,3} ("\\n"? b){1,4}`."""
        self.name("root", "root")
        self.name("program", "program")
        body, top, newline = self.rules["start"], (0, True), Tok(self.src.layout[0])
        if not (isinstance(body, Rep) and (body.lo, body.hi) == (0, None)):
            raise GbnfError("the start rule must be a repetition of its alternatives")
        *lines, last = [o for o in alternatives(body.body) if o != newline]
        for option in [*lines, last]:
            self.current = "program"
            out = self.emit(option, top, frozenset())
            if out is None or out.state != top:
                raise GbnfError(f"{option} cannot stand at the top of a program")
            blank = '( | "\\n")' if option is last and newline in alternatives(body.body) else ""
            lo, hi = (1, MAX_DEFINITIONS) if option is last else (0, MAX_PREAMBLE)
            line = self.writer.repeat(join([blank, *out.parts]), lo, hi, "program")
            self.out["program"] = join([self.out["program"], line])
        start = lit(f"{fence}agent\n") if fence else ""
        self.out["root"] = f"{start} program {lit(fence)}" if fence else "program"


@cache
def _source() -> Source:
    return Source()


def dsl_gbnf(
    *,
    max_depth: int = 4,
    max_statements: int = 20,
    fence: str | None = "```",
) -> str:
    """The GBNF grammar of DSL programs, for llama.cpp (`extra_body={"grammar": ...}`).

    With a `fence` the model writes one fenced ```agent block and stops at its closing fence.
    Blocks nest at most `max_depth` levels (a def's body is level 1) and hold at most
    `max_statements` statements. The text is cached: asking again with the same limits returns
    the same string.
    """
    if max_depth < 1 or max_statements < 1:
        raise ValueError("a program needs max_depth >= 1 and max_statements >= 1")
    return _gbnf(max_depth, max_statements, fence)


@cache
def _gbnf(max_depth: int, max_statements: int, fence: str | None) -> str:
    emitter = Emitter(_source(), max_depth, max_statements)
    emitter.program(fence)
    head = "# Generated from agentjit/frontend/grammar.lark by agentjit.frontend.gbnf.\n"
    return head + "".join(f"{name} ::= {body}\n" for name, body in emitter.out.items())
