"""Grammar expressions for the GBNF generator (agentjit.frontend.gbnf), and their GBNF text.

An expression is a tree of `Tok` (a Lark terminal), `Ref` (a Lark rule), `Lit` and `Cls`
(characters, inside tokens), `Seq`, `Alt` and `Rep`. Here: constructors that keep trees small,
character classes, regexes and keyword-free identifiers as characters, First/Last sets, random
samples, and `Writer`, which spells expressions as GBNF text.

Both are shaped for llama.cpp's sampler. At every step it checks the whole vocabulary (49k
tokens for SmolLM2) against the grammar: it keeps one stack per way through the grammar that is
still open, tries the candidates on each stack in turn, hands on to the next stack only those
this one rejects, and walks those it takes through the grammar character by character, building
the next stacks at each one. So every open way costs a pass over nearly all candidates, and
that, not the model, dominated constrained sampling. Hence:

* One way where the language allows: `alt` factors common heads down to single characters
  (`a b | a c` -> `a (b | c)`, `"<" | "<="` -> `"<" "="?`), lets alternatives that differ only
  in their first character share a class (`"-" | "+"` -> `[-+]`), and opens an optional part
  that starts like another alternative (`[x, ...] | [x for ...]` follow `x` once).
* Order. llama.cpp builds a rule's stacks from its last alternative to its first, and its own
  `x*` and `x?` put the way out last, so every stack leaving an identifier (its follow set:
  about ten) would see every candidate before the identifier's own stack took the ones that
  go on. The writer spells `x*` as `r ::= | x r` and `x?` as `( | x)`, and writes alternatives
  widest (most first characters) last, so the stack most likely to take a token is tried first.
* Depth. Every parenthesized group is a rule of its own to llama.cpp and one more level in
  every stack passing through it (stacks are copied and compared whole), so groups are written
  only where a choice or a postfix operator needs them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Union


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


def alternatives(node: Node) -> tuple[Node, ...]:
    return node.items if isinstance(node, Alt) else (node,)


def walk(node: Node) -> list[Node]:
    return [node, *(x for k in kids(node) for x in walk(k))]


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
    """A choice without impossible branches, common heads factored (`a b | a c` -> `a (b | c)`,
    `"<" | "<="` -> `"<" "="?`), so that llama.cpp follows one way until they differ."""
    flat = _opened([x for i in items if i is not None for x in alternatives(i)])
    heads: dict[Node, list[Node]] = {}
    for i in flat:
        if i != EMPTY:
            heads.setdefault(_head(i)[0], []).append(i)
    opts = [
        g[0] if len(g) == 1 else seq([h, alt([_head(x)[1] for x in g])]) for h, g in heads.items()
    ]
    opts = _classes(opts)  # type: ignore[arg-type]
    node = opts[0] if len(opts) == 1 else Alt(tuple(opts)) if opts else None  # type: ignore
    return rep(node, 0, 1) if EMPTY in flat else node


def _classes(opts: list[Node]) -> list[Node]:
    """Alternatives that differ only in their first character share a class: `"-" | "+"` ->
    `[-+]`, `"<=" | ">="` -> `[<>] "="`: one way instead of several."""
    tails: dict[tuple[bool, Node], list[Node]] = {}
    for o in opts:
        first, rest = _head(o)
        single = isinstance(first, Cls) or (isinstance(first, Lit) and len(first.text) == 1)
        tails.setdefault((single, rest if single else o), []).append(first)
    out = []
    for (single, rest), firsts in tails.items():
        if not single or len(firsts) == 1:
            out.append(rest if not single else seq([firsts[0], rest]) or firsts[0])
        else:
            ranges = [r for c in firsts for r in _ranges(c)]  # type: ignore[arg-type]
            out.append(seq([merge(ranges), rest]))  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


def _ranges(c: Cls | Lit) -> tuple[tuple[int, int], ...]:
    return c.ranges if isinstance(c, Cls) else ((ord(c.text), ord(c.text)),)


def _opened(flat: list[Node]) -> list[Node]:
    """`x? y | x z` -> `y | x y | x z` where x starts like another alternative, so that llama.cpp
    does not follow x twice (`[` then an element, or an element then `for`)."""
    heads = {_head(i)[0] for i in flat if i != EMPTY}
    out: list[Node] = []
    for i in flat:
        first, *rest = i.items if isinstance(i, Seq) and i.items else (i,)
        optional = isinstance(first, Rep) and (first.lo, first.hi) == (0, 1)
        if optional and _head(first.body)[0] in heads:  # type: ignore[union-attr]
            out += [seq(rest) or EMPTY, seq([first.body, *rest])]  # type: ignore[list-item,union-attr]
        else:
            out.append(i)
    return out


def _head(node: Node) -> tuple[Node, Node]:
    """The first item and the rest; of a literal, the first character."""
    first, *rest = node.items if isinstance(node, Seq) else (node,)
    if isinstance(first, Lit) and len(first.text) > 1:
        first, rest = Lit(first.text[0]), [Lit(first.text[1:]), *rest]
    return first, seq(rest) or EMPTY


def rep(body: Node | None, lo: int, hi: int | None) -> Node | None:
    if body is None or hi == 0:
        return EMPTY if lo == 0 else None
    return Rep(body, lo, hi)


# ---- character classes ----------------------------------------------------------------------


def cls(chars: set[int]) -> Cls:
    return merge([(c, c) for c in chars])


def merge(ranges: list[tuple[int, int]]) -> Cls:
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
    pairs = zip(bounds[::2], bounds[1::2], strict=True)
    return Cls(tuple((a + 1, b - 1) for a, b in pairs if a + 1 <= b - 1))


def members(c: Cls) -> set[int]:
    """Code points of `c` below 128, and 128 standing for all above."""
    found = {x for lo, hi in c.ranges for x in range(lo, min(hi, 127) + 1)}
    return found | ({128} if c.ranges and c.ranges[-1][1] > 127 else set())


def intersect(a: Cls, b: Cls) -> Cls:
    pairs = ((max(x, y), min(p, q)) for x, p in a.ranges for y, q in b.ranges)
    return Cls(tuple(sorted((lo, hi) for lo, hi in pairs if lo <= hi)))


# ---- tokens as characters ---------------------------------------------------------------------


def from_regex(pattern: str, dotall: bool) -> Node:
    """A Python regex -> characters; GbnfError on lookaround and other non-regular parts."""

    def walk_items(items: Any) -> Node:
        return seq([one(op, av) for op, av in items]) or EMPTY

    def one(op: Any, av: Any) -> Node:
        if op is sre.LITERAL:
            return Lit(chr(av))
        if op in (sre.NOT_LITERAL, sre.ANY):
            return complement(cls({av} if op is sre.NOT_LITERAL else set() if dotall else {10}))
        if op is sre.IN:
            return _class(av)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            return Rep(walk_items(av[2]), av[0], None if av[1] == sre.MAXREPEAT else av[1])
        if op is sre.SUBPATTERN and not av[1] and not av[2]:
            return walk_items(av[3])
        if op is sre.BRANCH:
            return Alt(tuple(walk_items(a) for a in av[1]))
        raise GbnfError(f"the regex {pattern!r} uses {op}, which GBNF cannot say")

    return walk_items(sre_parse.parse(pattern))


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
    return complement(merge(ranges)) if negated else merge(ranges)


def without(keywords: set[str], node: Node, name: str) -> Node:
    """Identifiers `head tail*` (the token `name`) that are none of `keywords`."""
    head, more = node.items if isinstance(node, Seq) and len(node.items) == 2 else (None, None)
    if not (isinstance(head, Cls) and isinstance(more, Rep) and more == Rep(more.body, 0, None)):
        raise GbnfError(f"cannot keep the keywords {sorted(keywords)} out of {name}")
    return trie("", keywords, head, more.body)  # type: ignore[arg-type]


def trie(prefix: str, words: set[str], head: Cls, tail: Node) -> Node:
    """Identifiers `head tail*` that go on from `prefix` and are none of `words`: at each node
    the name may end unless the prefix is a word, go on in the trie, or leave it."""
    n = len(prefix)
    nexts = sorted({w[n] for w in words if len(w) > n and w.startswith(prefix)})
    others = intersect(head, complement(cls({ord(c) for c in nexts})))
    node = alt(
        [seq([Lit(c), trie(prefix + c, words, tail, tail)]) for c in nexts]  # type: ignore
        + [Seq((others, Rep(tail, 0, None))) if others.ranges else None]
    )
    return node if not prefix or prefix in words else Rep(node, 0, 1)  # type: ignore[arg-type]


def sample(node: Node, rng: random.Random) -> str:
    """A random string of a token, preferring printable ASCII characters."""
    if isinstance(node, Lit):
        return node.text
    if isinstance(node, Cls):
        printable = sorted(members(node) & set(range(32, 127)))
        return chr(rng.choice(printable) if printable else node.ranges[0][0])
    if isinstance(node, Alt):
        return sample(rng.choice(node.items), rng)
    if isinstance(node, Rep):
        top = node.lo + 2 if node.hi is None else min(node.hi, node.lo + 2)
        return "".join(sample(node.body, rng) for _ in range(rng.randint(node.lo, top)))
    return "".join(sample(i, rng) for i in kids(node))


# ---- First and Last -------------------------------------------------------------------------


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


def lit(text: str) -> str:
    return '"' + "".join(_char(ord(c), _ESCAPES) for c in text) + '"'


def char_class(node: Cls) -> str:
    neg = complement(node)
    ranges = neg.ranges if len(neg.ranges) < len(node.ranges) else node.ranges
    body = "".join(
        _char(lo, _IN_CLASS) + ("" if hi == lo else "-" * (hi > lo + 1) + _char(hi, _IN_CLASS))
        for lo, hi in ranges
    )
    return f"[{'^' * (ranges is neg.ranges)}{body}]"


def join(parts: Sequence[str]) -> str:
    return " ".join(p for p in parts if p)


def group(parts: Sequence[str]) -> str:
    """`parts` as one unit for a postfix operator."""
    text = join(parts)
    simple = re.fullmatch(r'[a-z0-9-]+|"([^"\\]|\\.)*"|\[([^\]\\]|\\.)*\]', text)
    return text if simple or _enclosed(text) else f"({text})"


def unit(text: str) -> str:
    """`text` as one part of a sequence: in parentheses only if it is a choice. Every group is a
    rule of its own to llama.cpp, and so one more level in every stack that passes through it."""
    return f"({text})" if _depths(text)[1] else text


def bare(text: str) -> str:
    """`text` without parentheses around all of it, for a choice or a rule's body."""
    return text[1:-1] if _enclosed(text) else text


def _enclosed(text: str) -> bool:
    """Is `text` one parenthesized group, `(...)`?"""
    return text.startswith("(") and _depths(text)[0] == len(text) - 1


def _depths(text: str) -> tuple[int, bool]:
    """Where the group that opens `text` closes, and whether a `|` stands outside all groups."""
    depth, i, close, bar = 0, 0, -1, False
    while i < len(text):
        c = text[i]
        if c in '"[':  # skip a literal or a class, with its escapes
            end = '"' if c == '"' else "]"
            i += 1
            while text[i] != end:
                i += 2 if text[i] == "\\" else 1
        depth += (c == "(") - (c == ")")
        bar |= c == "|" and depth == 0
        close = i if depth == 0 and close < 0 and c == ")" else close
        i += 1
    return close, bar


def widest_last(items: Sequence[Any], width: Callable[[Any], int]) -> list[Any]:
    """Alternatives in the order llama.cpp should not try them: it tries the last one first."""
    return sorted(items, key=width)


class Writer:
    """GBNF rules: `self.rules`, in order; repetitions become helper rules (see module doc)."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self.loops: dict[str, str] = {}  # body text -> its loop rule

    def repeat(self, body: str, lo: int, hi: int | None, owner: str) -> str:
        """`body` lo..hi times, each time trying to go on before trying to stop."""
        if hi is not None and hi > 1:  # lines of a block: llama.cpp's own bounded form
            return group([body]) + (f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}")
        if hi is None:
            return join([unit(body)] * lo + [self.loop(unit(body), owner)])
        return unit(body) if lo else f"( | {bare(body)})"

    def loop(self, body: str, owner: str) -> str:
        if body not in self.loops:
            self.loops[body] = name = self.fresh(f"{owner}-loop")
            self.rules[name] = f"| {body} {name}"
        return self.loops[body]

    def fresh(self, base: str) -> str:
        """An unused rule name like `base`, reserved."""
        name, n = base, 1
        while name in self.rules:
            n += 1
            name = f"{base}-{n}"
        self.rules[name] = ""
        return name

    def chars(self, node: Node, owner: str) -> str:
        """A token's characters."""
        if isinstance(node, Lit):
            return lit(node.text)
        if isinstance(node, Cls):
            return char_class(node)
        if isinstance(node, Alt):
            return f"({self.choices(node.items, owner)})"
        if isinstance(node, Rep) and (node.lo, node.hi) == (0, 1) and isinstance(node.body, Alt):
            return f"( | {self.choices(node.body.items, owner)})"
        if isinstance(node, Rep):
            return self.repeat(self.chars(node.body, owner), node.lo, node.hi, owner)
        return join([self.chars(i, owner) for i in kids(node)])

    def choices(self, items: Sequence[Node], owner: str) -> str:
        ordered = widest_last(items, lambda i: len(Analysis().edge(i, 0)))
        return " | ".join(self.chars(i, owner) for i in ordered)
