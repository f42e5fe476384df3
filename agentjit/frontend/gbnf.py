"""A llama.cpp GBNF grammar for the DSL, generated from grammar.lark.

A local model constrained by `dsl_gbnf()` can only write text that our Lark parser accepts: a
subset of the language, never more. The grammar is derived from grammar.lark by walking Lark's
own grammar trees, so it follows the DSL; only what GBNF cannot say is decided here.

* Tokens. String literals become GBNF literals and regexes are translated opcode by opcode.
  `SUBSETS` replaces the regexes GBNF cannot say (lookaround) or that we offer only in part by
  sound subsets: plain strings with simple escapes, no prefixes, floats with digits on both sides
  of the dot. Lark retypes a NAME that equals a literal ("if", "None", "use") to that keyword, so
  NAME is built as a trie of those words: at each node the name may end unless the prefix is a
  keyword, may go on in the trie, or may leave it with any other identifier character.
* Spacing. `%ignore` lets a single space separate tokens. Between adjacent tokens the space is
  required where leaving it out could change the tokens (`in x`, `1 .real`, `if "a"`) and
  optional elsewhere; "could change" is decided by running Lark's own lexer on samples of both
  tokens, and word characters always glue. Adjacency crosses rules, so First and Last token sets
  come from a fixed point; where the tokens a rule may end with need different spacing after
  them, the rule is split by its last token (`1 .real` needs the space, `x.real` does not).
* Layout. The indenter makes `_NEWLINE`, `_INDENT` and `_DEDENT` out of line breaks, and GBNF is
  context-free, so a rule containing layout tokens is instantiated per (depth, at line start):
  a token at line start is indented four spaces per level, `_NEWLINE` writes "\\n" and puts us at
  line start, `_INDENT`/`_DEDENT` change the depth. Layout-free rules are written once. Every
  instance must end in one state and repetitions must come back to where they started, else
  `GbnfError`. Blocks deeper than `max_depth` are not offered; lines repeat at most
  `max_statements` times; newlines inside brackets are not offered.
* Shape. Left recursion, which llama.cpp cannot run, becomes iteration; common prefixes of
  alternatives are factored out so llama.cpp follows one path; the start rule `(a | b | _NEWLINE)*`
  is offered as up to three `a` then one to four `b` with optional blank lines, so outputs are
  ordered and finite; `NOT_OFFERED` drops what the parser accepts only to explain it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Union

from lark import Lark, Tree
from lark.exceptions import LarkError
from lark.grammar import NonTerminal, Terminal
from lark.lexer import LexerThread, PatternStr
from lark.load_grammar import load_grammar

from agentjit.frontend.syntax import DslIndenter

INDENT = "    "
MAX_PREAMBLE, MAX_DEFINITIONS = 3, 4
NOT_OFFERED = frozenset({"attr_assign", "item_assign"})
_CTL = r"\x00-\x08\x0b-\x1f"  # control characters but tab and newline
SUBSETS = {
    "FLOAT_NUMBER": r"[0-9](_?[0-9])*\.[0-9](_?[0-9])*([eE][+-]?[0-9]+)?",
    "STRING": rf"\"([^\"\\\t\n{_CTL}]|\\[\\\"'nrt])*\"|'([^'\\\t\n{_CTL}]|\\[\\\"'nrt])*'",
    "LONG_STRING": rf"\"\"\"([^\"\\{_CTL}]|\"[^\"\\{_CTL}]|\\[\\'nrt])*\"\"\""
    rf"|'''([^'\\{_CTL}]|'[^'\\{_CTL}]|\\[\\\"nrt])*'''",
}


class GbnfError(Exception):
    """grammar.lark uses something this generator cannot translate soundly."""


@dataclass(frozen=True)
class Tok:  # a Lark terminal: NAME, LPAR, _NEWLINE, ...
    name: str


@dataclass(frozen=True)
class Ref:  # a Lark rule
    name: str


@dataclass(frozen=True)
class Lit:  # characters, inside a token
    text: str


@dataclass(frozen=True)
class Cls:  # a character class: sorted disjoint inclusive code point ranges
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Rep:
    body: Node
    lo: int
    hi: int | None


Node = Union[Tok, Ref, Lit, Cls, Seq, Alt, Rep]  # noqa: UP007 (evaluated at run time)
EMPTY = Seq(())


def kids(node: Node) -> tuple[Node, ...]:
    return (node.body,) if isinstance(node, Rep) else getattr(node, "items", ())


def _alternatives(node: Node) -> tuple[Node, ...]:
    return node.items if isinstance(node, Alt) else (node,)


def seq(items: Sequence[Node | None]) -> Node | None:
    """A flat sequence with neighbouring literals joined; None if a part is impossible."""
    out: list[Node] = []
    for x in (x for i in items for x in (i.items if isinstance(i, Seq) else (i,))):
        if x is None:
            return None
        if out and isinstance(out[-1], Lit) and isinstance(x, Lit):
            x = Lit(out.pop().text + x.text)  # type: ignore[union-attr]
        out.append(x)
    return out[0] if len(out) == 1 else Seq(tuple(out))


def alt(items: Sequence[Node | None]) -> Node | None:
    """A choice without impossible branches, common heads factored (`a b | a c` -> `a (b | c)`)."""
    heads: dict[Node, list[Node]] = {}
    for i in items:
        if i is not None and i != EMPTY:
            heads.setdefault(i.items[0] if isinstance(i, Seq) else i, []).append(i)
    opts = [g[0] if len(g) == 1 else seq([h, alt([_tail(x) for x in g])]) for h, g in heads.items()]
    node = opts[0] if len(opts) == 1 else Alt(tuple(opts)) if opts else None
    return rep(node, 0, 1) if EMPTY in items else node  # type: ignore[arg-type]


def _tail(node: Node) -> Node:
    return seq(node.items[1:]) or EMPTY if isinstance(node, Seq) else EMPTY  # type: ignore


def rep(body: Node | None, lo: int, hi: int | None) -> Node | None:
    if body is None or hi == 0:
        return EMPTY if lo == 0 else None
    return Rep(body, lo, hi)


def cls(chars: set[int]) -> Cls:
    return _merge([(c, c) for c in chars])


def _merge(ranges: list[tuple[int, int]]) -> Cls:
    """A class from any ranges: sorted, overlapping and touching ones joined."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return Cls(tuple(out))


def complement(c: Cls) -> Cls:
    bounds = [-1] + [x for r in c.ranges for x in r] + [0x110000]  # gaps lie between pairs
    return Cls(
        tuple(
            (a + 1, b - 1) for a, b in zip(bounds[::2], bounds[1::2], strict=True) if a + 1 <= b - 1
        )
    )


def members(c: Cls) -> set[int]:
    """Code points of `c` below 128, and 128 standing for all above."""
    found = {x for lo, hi in c.ranges for x in range(lo, min(hi, 127) + 1)}
    return found | ({128} if c.ranges and c.ranges[-1][1] > 127 else set())


def intersect(a: Cls, b: Cls) -> Cls:
    pairs = ((max(x, y), min(p, q)) for x, p in a.ranges for y, q in b.ranges)
    return Cls(tuple(sorted((lo, hi) for lo, hi in pairs if lo <= hi)))


# ---- reading grammar.lark ---------------------------------------------------------------------


def _from_tree(tree: Any, literals: dict[str, str]) -> Node | None:
    """One rule of Lark's grammar tree -> an expression (None: nothing we offer)."""
    if isinstance(tree, (Terminal, NonTerminal)):
        return (Tok if isinstance(tree, Terminal) else Ref)(tree.name)
    parts = [
        _from_tree(k, literals)
        for k in tree.children
        if isinstance(k, (Tree, Terminal, NonTerminal))
    ]
    if tree.data == "expansions":
        return alt(parts)
    if tree.data == "alias":
        return None if str(tree.children[1].name) in NOT_OFFERED else parts[0]
    if tree.data in ("expansion", "value"):
        return seq(parts)
    if tree.data == "maybe":
        return rep(parts[0], 0, 1)
    if tree.data == "expr":  # x*, x+, x?, x ~ n, x ~ n..m
        op, *counts = [str(k) for k in tree.children[1:]]
        if op in ("*", "+", "?"):
            return rep(parts[0], int(op == "+"), 1 if op == "?" else None)
        return rep(parts[0], int(counts[0]), int(counts[-1]))
    literal = str(tree.children[0])
    if tree.data == "literal" and literal[0] == literal[-1] == '"':
        return Tok(literals[re.sub(r"\\(.)", r"\1", literal[1:-1])])
    raise GbnfError(f"cannot translate the grammar construct {tree}")


def _from_regex(pattern: str, dotall: bool) -> Node:
    """A Python regex -> characters; GbnfError on lookaround and other non-regular parts."""

    def walk(items: Any) -> Node:
        return seq([one(op, av) for op, av in items]) or EMPTY

    def one(op: Any, av: Any) -> Node:
        if op is sre.LITERAL:
            return Lit(chr(av))
        if op in (sre.NOT_LITERAL, sre.ANY):
            return complement(cls({av} if op is sre.NOT_LITERAL else set() if dotall else {10}))
        if op is sre.IN:
            return _class(av)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            return Rep(walk(av[2]), av[0], None if av[1] == sre.MAXREPEAT else av[1])
        if op is sre.SUBPATTERN and not av[1] and not av[2]:
            return walk(av[3])
        if op is sre.BRANCH:
            return Alt(tuple(walk(a) for a in av[1]))
        raise GbnfError(f"the regex {pattern!r} uses {op}, which GBNF cannot say")

    return walk(sre_parse.parse(pattern))


def _class(items: list[tuple[Any, Any]]) -> Cls:
    ranges: list[tuple[int, int]] = []
    negated = (sre.NEGATE, None) in items
    for op, av in items:
        if op is sre.LITERAL:
            ranges.append((av, av))
        elif op is sre.RANGE:
            ranges.append(av)
        elif op is sre.CATEGORY and av is sre.CATEGORY_DIGIT and not negated:
            ranges.append((48, 57))  # [0-9] is a subset of \d; [^0-9] would be a superset
        elif op is not sre.NEGATE:
            raise GbnfError(f"the regex class item {op} {av} has no GBNF translation")
    return complement(_merge(ranges)) if negated else _merge(ranges)


class Analysis:
    """Nullable, First and Last sets by fixed point: token names, or code points inside tokens."""

    def __init__(self, rules: dict[str, Node] | None = None) -> None:
        self.rules = rules or {}
        self.info: dict[str, tuple[bool, frozenset, frozenset]] = {}
        while True:
            new = {
                n: (self.nullable(b), self.edge(b, 0), self.edge(b, -1))
                for n, b in self.rules.items()
            }
            if new == self.info:
                break
            self.info = new

    def nullable(self, node: Node) -> bool:
        if isinstance(node, Ref):
            return node.name in self.info and self.info[node.name][0]
        if isinstance(node, (Tok, Cls, Lit)):
            return node == Lit("")
        if isinstance(node, Rep):
            return node.lo == 0 or self.nullable(node.body)
        return (all if isinstance(node, Seq) else any)(self.nullable(i) for i in node.items)

    def edge(self, node: Node, end: int, corners: bool = False) -> frozenset:
        """First (end=0) or last (end=-1) tokens; with `corners`, the rules at the left edge."""
        if isinstance(node, Tok):
            return frozenset({node.name})
        if isinstance(node, (Lit, Cls)):
            return frozenset(members(node) if isinstance(node, Cls) else {ord(node.text[end])})
        if isinstance(node, Ref):
            if corners:
                return frozenset({node})
            return self.info[node.name][2 if end else 1] if node.name in self.info else frozenset()
        if not isinstance(node, Seq):
            return frozenset().union(*(self.edge(i, end, corners) for i in kids(node)))
        out: frozenset = frozenset()
        for item in node.items[::-1] if end else node.items:
            out |= self.edge(item, end, corners)
            if not self.nullable(item):
                break
        return out


def _no_left_recursion(rules: dict[str, Node]) -> dict[str, Node]:
    """`r: r a | r b | c` -> `r: c (a | b)*`; left recursion through other rules is an error."""
    for name, body in rules.items():
        alts = body.items if isinstance(body, Alt) else (body,)
        own = [a.items[1:] for a in alts if isinstance(a, Seq) and a.items[0] == Ref(name)]
        if own:
            rest = alt([a for a in alts if not (isinstance(a, Seq) and a.items[0] == Ref(name))])
            rules[name] = seq([rest, rep(alt([seq(t) for t in own]), 0, None)])  # type: ignore
    an = Analysis(rules)
    for name in rules:
        seen, todo = set(), [Ref(name)]
        while todo:
            for r in an.edge(rules[todo.pop().name], 0, corners=True) - seen:
                if isinstance(r, Ref):
                    seen.add(r)
                    todo.append(r)
        if Ref(name) in seen:
            raise GbnfError(f"rule {name!r} is left-recursive through other rules")
    return rules


# ---- tokens: characters, keywords, spacing ------------------------------------------------------


def _sample(node: Node, rng: random.Random) -> str:
    """A random string of a token, preferring printable ASCII characters."""
    if isinstance(node, Lit):
        return node.text
    if isinstance(node, Cls):
        printable = sorted(members(node) & set(range(32, 127)))
        return chr(rng.choice(printable) if printable else node.ranges[0][0])
    if isinstance(node, Alt):
        return _sample(rng.choice(node.items), rng)
    if isinstance(node, Rep):
        top = node.lo + 2 if node.hi is None else min(node.hi, node.lo + 2)
        return "".join(_sample(node.body, rng) for _ in range(rng.randint(node.lo, top)))
    return "".join(_sample(i, rng) for i in kids(node))


def _trie(prefix: str, words: set[str], head: Cls, tail: Cls) -> Node:
    """Identifiers `head tail*` that go on from `prefix` and are none of `words`."""
    n = len(prefix)
    nexts = sorted({w[n] for w in words if len(w) > n and w.startswith(prefix)})
    others = intersect(head, complement(cls({ord(c) for c in nexts})))
    node = alt(
        [seq([Lit(c), _trie(prefix + c, words, tail, tail)]) for c in nexts]
        + [Seq((others, Rep(tail, 0, None))) if others.ranges else None]
    )
    return node if not prefix or prefix in words else Rep(node, 0, 1)  # type: ignore[arg-type]


def _without(keywords: set[str], node: Node, name: str) -> Node:
    """Lark retypes a `name` that equals a keyword, so `name` must not produce one."""
    head, more = node.items if isinstance(node, Seq) and len(node.items) == 2 else (None, None)
    if not (isinstance(head, Cls) and isinstance(more, Rep) and more == Rep(more.body, 0, None)):
        raise GbnfError(f"cannot keep the keywords {sorted(keywords)} out of {name}")
    return _trie("", keywords, head, more.body)  # type: ignore[arg-type]


def _read_rules(path: Path, terminals: dict[str, str]) -> dict[str, Node]:
    raw: dict[str, Node | None] = {}
    for name, params, tree, _ in load_grammar(path.read_text(), str(path), [], False)[0].rule_defs:
        if params:
            raise GbnfError(f"rule templates such as {name!r} are not supported")
        raw[str(name)] = _from_tree(tree, terminals)
    if empty := [n for n, b in raw.items() if b is None]:
        raise GbnfError(f"rules {empty} offer nothing once NOT_OFFERED is left out")
    return _no_left_recursion(raw)  # type: ignore[arg-type]


@dataclass
class Token:
    """One terminal: its characters, edge characters and samples for probing the lexer."""

    node: Node
    fixed: str | None  # the text of a literal terminal
    firsts: frozenset[int]
    lasts: frozenset[int]
    left: list[str]  # a sample ending with each possible last character
    right: list[str]  # a sample starting with each possible first character


class Source:
    """grammar.lark read for translation: rules, tokens, layout token names, spacing."""

    def __init__(self) -> None:
        path = Path(__file__).with_name("grammar.lark")
        self.lexer = Lark(path.read_text(), parser="lalr", lexer="basic")
        self.basic = self.lexer._build_lexer()
        self.layout = (DslIndenter.NL_type, DslIndenter.INDENT_type, DslIndenter.DEDENT_type)
        ignored = [self.lexer.get_terminal(n).pattern.to_regexp() for n in self.lexer.ignore_tokens]
        if not any(re.fullmatch(p, " ") for p in ignored):
            raise GbnfError("grammar.lark does not %ignore a space: tokens cannot be separated")
        terminals = self.lexer.terminals
        fixed = {t.name: t.pattern.value for t in terminals if isinstance(t.pattern, PatternStr)}
        self.rules = _read_rules(path, {text: name for name, text in fixed.items()})
        used = {n.name for b in self.rules.values() for n in _walk(b) if isinstance(n, Tok)}
        self.word = {c for c in range(128) if chr(c).isalnum() or chr(c) == "_"}  # these glue
        self.tokens = {t: self._token(t, fixed) for t in sorted(used - set(self.layout))}
        self.glued: dict[tuple[str, str], bool] = {}

    def lex(self, text: str) -> list[tuple[str, str]]:
        try:
            return [(t.type, str(t)) for t in LexerThread.from_text(self.basic, text).lex(None)]
        except LarkError:
            return []

    def _token(self, name: str, fixed: dict[str, str]) -> Token:
        """The terminal as characters; its samples must lex as itself, each alone."""
        pattern = self.lexer.get_terminal(name).pattern
        if name in fixed:
            node: Node = Lit(fixed[name])
        elif set(pattern.flags) - {"s"}:
            raise GbnfError(f"{name}: regex flags {pattern.flags} are not supported")
        else:
            node = _from_regex(SUBSETS.get(name, pattern.value), "s" in pattern.flags)
            keywords = {w for w in fixed.values() if re.fullmatch(pattern.to_regexp(), w)}
            node = _without(keywords, node, name) if keywords else node
        rngs = [random.Random(f"{name}{i}") for i in range(300)]
        samples = [fixed[name]] if name in fixed else sorted({_sample(node, r) for r in rngs})
        for text in samples:
            if self.lex(text) != [(name, text)]:
                raise GbnfError(f"{name}: its GBNF sample {text!r} lexes as {self.lex(text)}")
        by_last = {s[-1]: s for s in sorted(samples, key=len, reverse=True)}
        by_first = {s[0]: s for s in sorted(samples, key=len, reverse=True)}
        an = Analysis()
        ends = an.edge(node, 0), an.edge(node, -1)
        return Token(node, fixed.get(name), *ends, [*by_last.values()], [*by_first.values()])

    def glue(self, a: str, b: str) -> bool:
        """Could `a` written right before `b` lex differently? Then a space is required."""
        if a in self.layout or b in self.layout:
            return False
        if (a, b) not in self.glued:
            ta, tb = self.tokens[a], self.tokens[b]
            words = bool(ta.lasts & self.word and tb.firsts & self.word)
            self.glued[(a, b)] = words or any(
                self.lex(x + y) != [(a, x), (b, y)] for x in ta.left for y in tb.right
            )
        return self.glued[(a, b)]


def _walk(node: Node) -> list[Node]:
    return [node, *(x for k in kids(node) for x in _walk(k))]


class Splitter:
    """Splits a rule by its last token where the space needed after it differs (`1 .real`)."""

    def __init__(self, src: Source) -> None:
        self.src, self.rules = src, dict(src.rules)
        self.layout = _layout_rules(self.rules, set(src.layout))
        self.variants: dict[tuple[str, frozenset[str]], Ref] = {}
        self.an = Analysis(self.rules)

    def run(self) -> dict[str, Node]:
        done: set[str] = set()
        while todo := [n for n in self.rules if n not in done]:  # variants join the queue
            done.add(todo[0])
            self.rules[todo[0]] = self.split(self.rules[todo[0]])
        return self.rules

    def split(self, node: Node) -> Node:
        if isinstance(node, (Rep, Alt)):
            parts = [self.split(i) for i in kids(node)]
            return Rep(parts[0], node.lo, node.hi) if isinstance(node, Rep) else Alt(tuple(parts))
        if not isinstance(node, Seq):
            return node
        items = [self.split(i) for i in node.items]
        for i in range(len(items) - 2, -1, -1):  # from the right: the rest is split already
            x, rest = items[i], Seq(tuple(items[i + 1 :]))
            if not isinstance(x, Ref) or x.name in self.layout:
                continue
            follow = sorted(self.an.edge(rest, 0))
            groups: dict[frozenset[str], set[str]] = {}
            for a in sorted(self.an.edge(x, -1)):
                groups.setdefault(frozenset(b for b in follow if self.src.glue(a, b)), set()).add(a)
            alts = _alternatives(self.rules[x.name])
            ends = [self.an.edge(a, -1) for a in alts]
            classes = [frozenset(g) for g in groups.values()]
            if len(classes) > 1 and all(any(e <= c for c in classes) for e in ends):
                parts = [self.variant(x.name, c, alts, ends) for c in classes]
                items[i:] = [Alt(tuple(Seq((p, *items[i + 1 :])) for p in parts))]
        return seq(items) or EMPTY

    def variant(self, name: str, keep: frozenset, alts: tuple[Node, ...], ends: list) -> Ref:
        """Rule `name` cut down to its alternatives whose last token is in `keep`."""
        if (name, keep) not in self.variants:
            self.variants[(name, keep)] = Ref(f"{name}_v{len(self.variants) + 1}")
            self.rules[f"{name}_v{len(self.variants)}"] = alt(
                [a for a, e in zip(alts, ends, strict=True) if e <= keep]
            )  # type: ignore[assignment]
            self.an = Analysis(self.rules)
        return self.variants[(name, keep)]


def _layout_rules(rules: dict[str, Node], layout: set[str]) -> set[str]:
    """Rules that contain a layout token, directly or through other rules."""
    found: set[str] = set()
    while True:
        new = {n for n, b in rules.items() if any(_mentions(x, layout | found) for x in _walk(b))}
        if new == found:
            return found
        found = new


def _mentions(node: Node, names: set[str]) -> bool:
    return isinstance(node, (Tok, Ref)) and node.name in names


# ---- writing GBNF: layout states, separators, rule instances -----------------------------------

State = tuple[int, bool]  # (indentation depth, at the start of a line)
MID: State = (0, False)


@dataclass
class Out:
    parts: list[str]
    state: State
    ctx: frozenset[str]  # the tokens that may come last before what follows on this line


class Emitter:
    """Walks the rules from the start rule, tracking the layout state, and collects GBNF rules."""

    def __init__(self, src: Source, max_depth: int, max_statements: int) -> None:
        self.src, self.max_depth, self.max_statements = src, max_depth, max_statements
        self.rules = Splitter(src).run()
        self.an = Analysis(self.rules)
        self.layout = set(src.layout)
        self.layout_rules = _layout_rules(self.rules, self.layout)
        self.out: dict[str, str] = {}
        self.owner: dict[str, object] = {}
        self.done: dict[object, tuple[str, State] | str | None] = {}

    def name(self, key: object, base: str) -> str:
        """A GBNF rule name (lowercase letters, digits, dashes), reserved in output order."""
        name = re.sub("-+", "-", base.lower().replace("_", "-")).strip("-")
        if not re.fullmatch("[a-z][a-z0-9-]*", name) or self.owner.setdefault(name, key) != key:
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
        glued = any(self.src.glue(a, b) for a in sorted(ctx) for b in sorted(real))
        return '" "' if glued else '" "?'

    def lead(self, state: State, ctx: frozenset[str], firsts: frozenset[str]) -> str:
        if state[1]:
            return _lit(INDENT * state[0]) if state[0] else ""
        return self.sep(ctx, firsts)

    def emit(self, node: Node, state: State, ctx: frozenset[str]) -> Out | None:
        """`node` written from `state` after `ctx`; None when it cannot be offered (too deep)."""
        if isinstance(node, Tok):
            return self.token(node.name, state, ctx)
        if isinstance(node, Ref):
            return self.ref(node.name, state, ctx)
        if isinstance(node, Rep):
            return self.repeat(node, state, ctx)
        if isinstance(node, Alt):
            outs = [o for o in (self.emit(i, state, ctx) for i in node.items) if o]
            if len({o.state for o in outs}) > 1:
                raise GbnfError(f"alternatives end in different layout states: {node}")
            if not outs:
                return None
            text = "(" + " | ".join(_join(o.parts) for o in outs) + ")"
            return Out([text], outs[0].state, frozenset().union(*(o.ctx for o in outs)))
        parts: list[str] = []
        for item in node.items:  # type: ignore[union-attr]
            if not ctx and not state[1] and self.an.nullable(item):
                raise GbnfError(f"a sequence may not open with an optional part: {node}")
            out = self.emit(item, state, ctx)
            if out is None:
                return None
            parts, state, ctx = parts + out.parts, out.state, out.ctx
        return Out(parts, state, ctx)

    def token(self, name: str, state: State, ctx: frozenset[str]) -> Out | None:
        newline, indent, dedent = self.src.layout
        depth = state[0] + (name == indent) - (name == dedent)
        if name == newline:
            return Out([_lit("\n")], (depth, True), frozenset())
        if name in (indent, dedent):
            if not state[1] or depth < 0:
                raise GbnfError(f"{name} where the indenter cannot produce it")
            return Out([], (depth, True), frozenset()) if depth <= self.max_depth else None
        token = self.src.tokens[name]
        text = _lit(token.fixed) if token.fixed is not None else self.name(name, f"tok-{name}")
        if token.fixed is None:
            self.out[text] = _fmt(token.node)
        lead = self.lead(state, ctx, frozenset({name}))
        return Out([lead, text], (depth, False), frozenset({name}))

    def ref(self, name: str, state: State, ctx: frozenset[str]) -> Out | None:
        if self.an.nullable(Ref(name)):
            raise GbnfError(f"rule {name!r} can be empty, which only the start rule may be")
        first, last = self.an.edge(Ref(name), 0), self.an.edge(Ref(name), -1)
        layout = name in self.layout_rules
        key = (name, state if layout else None)
        if key not in self.done:
            base = f"{name}-{'l' if state[1] else 'm'}{state[0]}" if layout else name
            rule = self.name(key, base)
            self.done[key] = "busy" if layout else (rule, MID)
            out = self.emit(self.rules[name], state if layout else MID, frozenset())
            if out is not None and not layout and out.state != MID:
                raise GbnfError(f"rule {name!r} is inconsistent")
            self.done[key] = out and (rule, out.state if layout else MID)
            self.out.update({rule: _join(out.parts)}) if out else self.out.pop(rule)
        found = self.done[key]
        if found == "busy":
            raise GbnfError(f"rule {name!r} recurses without changing the indentation")
        if found is None:
            return None
        rule, end = found  # type: ignore[misc]
        if not layout:
            return Out([self.lead(state, ctx, first), rule], (state[0], False), last)
        lead = "" if state[1] else self.sep(ctx, first)  # an instance indents its first token
        return Out([lead, rule], end, frozenset() if end[1] else last)

    def repeat(self, node: Rep, state: State, ctx: frozenset[str]) -> Out | None:
        hi = node.hi
        if hi is None and any(_mentions(n, self.layout | self.layout_rules) for n in _walk(node)):
            hi = self.max_statements  # lines repeat a bounded number of times
        again = frozenset() if state[1] else ctx | (self.an.edge(node.body, -1) if hi != 1 else ctx)
        later = self.emit(node.body, state, again)
        if later is None:
            return Out([], state, ctx) if node.lo == 0 else None
        if later.state != state:
            raise GbnfError(f"a repetition starts in layout state {state}, ends in {later.state}")
        if node.lo == 0:
            return Out([_group(later.parts) + _op(0, hi)], state, ctx | later.ctx)
        first = self.emit(node.body, state, ctx)
        if first.parts == later.parts:  # type: ignore[union-attr]
            return Out([_group(later.parts) + _op(node.lo, hi)], state, later.ctx)
        more = _group(later.parts) + _op(node.lo - 1, None if hi is None else hi - 1)
        return Out([*first.parts, more], state, later.ctx)  # type: ignore[union-attr]

    def program(self, fence: str | None) -> None:
        """root and program: the start rule `(a | b | _NEWLINE)*` as `a{0,3} ("\\n"? b){1,4}`."""
        self.name("root", "root")
        self.name("program", "program")
        body, top, newline = self.rules["start"], (0, True), Tok(self.src.layout[0])
        if not (isinstance(body, Rep) and (body.lo, body.hi) == (0, None)):
            raise GbnfError("the start rule must be a repetition of its alternatives")
        *lines, last = [o for o in _alternatives(body.body) if o != newline]
        for option in [*lines, last]:
            out = self.emit(option, top, frozenset())
            if out is None or out.state != top:
                raise GbnfError(f"{option} cannot stand at the top of a program")
            blank = '"\\n"?' if option is last and newline in _alternatives(body.body) else ""
            bound = _op(1, MAX_DEFINITIONS) if option is last else _op(0, MAX_PREAMBLE)
            self.out["program"] = _join([self.out["program"], _group([blank, *out.parts]) + bound])
        start = _lit(f"{fence}agent\n") if fence else ""
        self.out["root"] = f"{start} program {_lit(fence)}" if fence else "program"


# ---- GBNF text --------------------------------------------------------------------------------

_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", '"': '\\"'}
_IN_CLASS = {**_ESCAPES, "]": "\\]", "[": "\\[", "^": "\\x5E", "-": "\\x2D"}


def _char(code: int, escapes: dict[str, str]) -> str:
    if chr(code) in escapes:
        return escapes[chr(code)]
    if 32 <= code < 127:
        return chr(code)
    return (
        f"\\x{code:02X}" if code < 256 else f"\\u{code:04X}" if code < 65536 else f"\\U{code:08X}"
    )


def _lit(text: str) -> str:
    return '"' + "".join(_char(ord(c), _ESCAPES) for c in text) + '"'


def _fmt(node: Node) -> str:
    if isinstance(node, Lit):
        return _lit(node.text)
    if isinstance(node, Cls):
        neg = complement(node)
        ranges = neg.ranges if len(neg.ranges) < len(node.ranges) else node.ranges
        body = "".join(
            _char(lo, _IN_CLASS) + ("" if hi == lo else "-" * (hi > lo + 1) + _char(hi, _IN_CLASS))
            for lo, hi in ranges
        )
        return f"[{'^' * (ranges is neg.ranges)}{body}]"
    if isinstance(node, Alt):
        return "(" + " | ".join(_fmt(i) for i in node.items) + ")"
    if isinstance(node, Rep):
        return _group([_fmt(node.body)]) + _op(node.lo, node.hi)
    items: list[Node] = []
    for i in kids(node):  # `x x*` -> `x+`
        if items and isinstance(i, Rep) and (i.lo, i.hi) == (0, None) and items[-1] == i.body:
            i = Rep(items.pop(), 1, None)
        items.append(i)
    return " ".join(_fmt(i) for i in items)


def _join(parts: list[str]) -> str:
    return " ".join(p for p in parts if p)


def _group(parts: list[str]) -> str:
    text = _join(parts)
    simple = re.fullmatch(r'[a-z0-9-]+|"([^"\\]|\\.)*"|\[([^\]\\]|\\.)*\]', text)
    return text if simple else f"({text})"


def _op(lo: int, hi: int | None) -> str:
    ops = {(0, None): "*", (1, None): "+", (0, 1): "?"}
    if (lo, hi) in ops:
        return ops[(lo, hi)]
    return f"{{{lo},}}" if hi is None else f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"


@cache
def _source() -> Source:
    return Source()


def dsl_gbnf(
    *,
    max_depth: int = 4,
    max_statements: int = 12,
    fence: str | None = "```",
    site_tools: Sequence[str] = (),
) -> str:
    """The GBNF grammar of DSL programs, for llama.cpp (`extra_body={"grammar": ...}`).

    With a `fence` the model writes one fenced ```agent block and stops at its closing fence.
    Blocks nest at most `max_depth` levels (a def's body is level 1) and hold at most
    `max_statements` statements. `site_tools` is accepted for later use and ignored for now.
    The text is cached: asking again with the same limits returns the same string.
    """
    del site_tools
    if max_depth < 1 or max_statements < 1:
        raise ValueError("a program needs max_depth >= 1 and max_statements >= 1")
    return _gbnf(max_depth, max_statements, fence)


@cache
def _gbnf(max_depth: int, max_statements: int, fence: str | None) -> str:
    emitter = Emitter(_source(), max_depth, max_statements)
    emitter.program(fence)
    head = "# Generated from agentjit/frontend/grammar.lark by agentjit.frontend.gbnf.\n"
    return head + "".join(f"{name} ::= {body}\n" for name, body in emitter.out.items())
