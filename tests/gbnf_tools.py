"""Independent tools for GBNF text: a reader, a random sampler and a translation to Lark.

They know nothing of how agentjit.frontend.gbnf builds its grammar: they read the text the
way llama.cpp does (rules `name ::= ...`, literals, character classes, groups, `* + ? {m,n}`)
so that tests can check what the text itself accepts.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

Expr = object  # one of the node classes below


@dataclass(frozen=True)
class Lit:
    text: str


@dataclass(frozen=True)
class Chars:
    ranges: tuple[tuple[int, int], ...]
    negated: bool

    def __contains__(self, code: int) -> bool:
        return any(lo <= code <= hi for lo, hi in self.ranges) != self.negated


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Seq:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Alt:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Rep:
    body: Expr
    lo: int
    hi: int | None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "[": "[", "]": "]"}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip(self, newlines: bool = True) -> None:
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "#":
                while self.pos < len(self.text) and self.text[self.pos] != "\n":
                    self.pos += 1
            elif c in " \t" or (c in "\r\n" and newlines):
                self.pos += 1
            else:
                return

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def char(self) -> int:
        c = self.text[self.pos]
        if c != "\\":
            self.pos += 1
            return ord(c)
        e = self.text[self.pos + 1]
        if e in _ESCAPES:
            self.pos += 2
            return ord(_ESCAPES[e])
        width = {"x": 2, "u": 4, "U": 8}[e]
        code = int(self.text[self.pos + 2 : self.pos + 2 + width], 16)
        self.pos += 2 + width
        return code

    def name(self) -> str:
        m = re.compile(r"[a-zA-Z0-9-]+").match(self.text, self.pos)
        if not m:
            raise SyntaxError(f"expected a rule name at {self.text[self.pos : self.pos + 30]!r}")
        self.pos = m.end()
        return m.group()

    def alternatives(self, nested: bool) -> Expr:
        alts = [self.sequence(nested)]
        while self.peek() == "|":
            self.pos += 1
            self.skip()
            alts.append(self.sequence(nested))
        return alts[0] if len(alts) == 1 else Alt(tuple(alts))

    def sequence(self, nested: bool) -> Expr:
        items: list[Expr] = []
        while True:
            self.skip(newlines=nested)
            c = self.peek()
            if not c or c in "|)" or (c == "\n"):
                break
            if re.match(r"[a-zA-Z0-9-]+\s*::=", self.text[self.pos :]):
                break
            items.append(self.postfix(self.atom()))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def atom(self) -> Expr:
        c = self.peek()
        if c == '"':
            self.pos += 1
            out = []
            while self.peek() != '"':
                out.append(chr(self.char()))
            self.pos += 1
            return Lit("".join(out))
        if c == "[":
            self.pos += 1
            negated = self.peek() == "^"
            self.pos += negated
            ranges = []
            while self.peek() != "]":
                lo = self.char()
                hi = lo
                if self.peek() == "-" and self.text[self.pos + 1] != "]":
                    self.pos += 1
                    hi = self.char()
                ranges.append((lo, hi))
            self.pos += 1
            return Chars(tuple(ranges), negated)
        if c == "(":
            self.pos += 1
            self.skip()
            inner = self.alternatives(nested=True)
            self.skip()
            assert self.peek() == ")", self.text[self.pos : self.pos + 40]
            self.pos += 1
            return inner if not isinstance(inner, Seq) or inner.items else Seq(())
        return Name(self.name())

    def postfix(self, atom: Expr) -> Expr:
        while True:
            c = self.peek()
            if c in "*+?":
                self.pos += 1
                atom = Rep(atom, int(c == "+"), 1 if c == "?" else None)
            elif c == "{":
                end = self.text.index("}", self.pos)
                lo, _, hi = self.text[self.pos + 1 : end].partition(",")
                many = "," in self.text[self.pos : end]
                atom = Rep(atom, int(lo), (int(hi) if hi else None) if many else int(lo))
                self.pos = end + 1
            else:
                return atom


def read_gbnf(text: str) -> dict[str, Expr]:
    """GBNF text -> {rule name: expression}; raises SyntaxError on what it cannot read."""
    reader, rules = _Reader(text), {}
    while True:
        reader.skip()
        if not reader.peek():
            return {name: _loop(name, e) for name, e in rules.items()}
        name = reader.name()
        reader.skip(newlines=False)
        if not reader.text.startswith("::=", reader.pos):
            raise SyntaxError(f"expected ::= after {name}")
        reader.pos += 3
        reader.skip(newlines=False)
        rules[name] = reader.alternatives(nested=False)


def _loop(name: str, e: Expr) -> Expr:
    """`r ::= | x r` read as `r ::= x*`: the same strings, without recursion per repetition."""
    if isinstance(e, Alt) and len(e.items) == 2 and e.items[0] == Seq(()):
        body = e.items[1]
        if isinstance(body, Seq) and body.items[-1] == Name(name):
            inner = body.items[:-1]
            return Rep(inner[0] if len(inner) == 1 else Seq(inner), 0, None)
    return e


def _children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Rep):
        return (e.body,)
    return e.items if isinstance(e, Seq | Alt) else ()


def _all(rules: dict[str, Expr]) -> list[Expr]:
    out, todo = [], list(rules.values())
    while todo:
        e = todo.pop()
        out.append(e)
        todo += _children(e)
    return out


def referenced(rules: dict[str, Expr]) -> set[str]:
    return {e.name for e in _all(rules) if isinstance(e, Name)}


def _height(e: Expr, h: dict[str, float]) -> float:
    """Rule-expansion depth of the shallowest string of `e`."""
    if isinstance(e, Name):
        return h[e.name] + 1
    if isinstance(e, Seq):
        return max((_height(i, h) for i in e.items), default=0)
    if isinstance(e, Alt):
        return min(_height(i, h) for i in e.items)
    if isinstance(e, Rep):
        return _height(e.body, h) if e.lo else 0
    return 0


class Sampler:
    """Random strings of a GBNF grammar; past `depth` rule expansions it goes the shallow ways."""

    def __init__(self, rules: dict[str, Expr], seed: int = 0, depth: int = 10) -> None:
        self.rules, self.rng, self.depth = rules, random.Random(seed), depth
        self.more = 0.4  # the chance of one more repetition
        self.best: dict[int, tuple[Expr, ...]] = {}  # by id: hashing deep trees is slow
        self.pools: dict[int, list[str]] = {}
        self.h = dict.fromkeys(rules, float("inf"))
        for _ in range(len(rules) + 1):
            self.h = {n: _height(e, self.h) for n, e in rules.items()}

    def sample(self, start: str = "root") -> str:
        out: list[str] = []
        self._gen(Name(start), 0, out)
        return "".join(out)

    def _gen(self, e: Expr, d: int, out: list[str]) -> None:
        rng = self.rng
        if isinstance(e, Lit):
            out.append(e.text)
        elif isinstance(e, Chars):
            out.append(self._char(e))
        elif isinstance(e, Name):
            self._gen(self.rules[e.name], d + 1, out)
        elif isinstance(e, Seq):
            for i in e.items:
                self._gen(i, d, out)
        elif isinstance(e, Alt):
            self._gen(rng.choice(self._shallowest(e) if d > self.depth else e.items), d, out)
        else:
            assert isinstance(e, Rep)
            n = e.lo
            while d <= self.depth and (e.hi is None or n < e.hi) and rng.random() < self.more:
                n += 1
            for _ in range(n):
                self._gen(e.body, d, out)

    def _shallowest(self, e: Alt) -> tuple[Expr, ...]:
        if id(e) not in self.best:
            heights = [_height(i, self.h) for i in e.items]  # tokens too, not just literals:
            low = min(heights) + 1
            self.best[id(e)] = tuple(i for i, h in zip(e.items, heights, strict=True) if h <= low)
        return self.best[id(e)]

    def _char(self, e: Chars) -> str:
        if id(e) not in self.pools:
            codes = [*range(9, 127), 0xE9, 0x4E2D]
            self.pools[id(e)] = [chr(c) for c in codes if c in e]
        return self.rng.choice(self.pools[id(e)])


def _one(c: int) -> str:
    """One character inside a Lark /regex/."""
    if c < 32:
        return f"\\x{c:02x}"
    if chr(c) in "/\\[]^-":
        return "\\" + chr(c)
    return re.escape(chr(c)) if c < 128 else f"\\U{c:08x}"


def _regex_class(e: Chars) -> str:
    one = _one
    body = "".join(one(lo) if lo == hi else f"{one(lo)}-{one(hi)}" for lo, hi in e.ranges)
    return f"[{'^' if e.negated else ''}{body}]"


def _nullable(e: Expr) -> bool:
    if isinstance(e, Lit):
        return not e.text
    if isinstance(e, Seq):
        return all(_nullable(i) for i in e.items)
    if isinstance(e, Alt):
        return any(_nullable(i) for i in e.items)
    return isinstance(e, Rep) and (e.lo == 0 or _nullable(e.body))


def _regex(e: Expr) -> str | None:
    """A Python regex for a part without rule references (None if it has some)."""
    if isinstance(e, Lit):
        return "".join(_one(ord(c)) for c in e.text)
    if isinstance(e, Chars):
        return _regex_class(e)
    if isinstance(e, Name):
        return None
    parts = [_regex(i) for i in _children(e)]
    if None in parts:
        return None
    if isinstance(e, Seq):
        return "".join(f"(?:{p})" for p in parts)
    if isinstance(e, Alt):
        return "(?:" + "|".join(parts) + ")"  # type: ignore[arg-type]
    assert isinstance(e, Rep)
    return f"(?:{parts[0]}){{{e.lo},{'' if e.hi is None else e.hi}}}"


def _firsts(e: Expr, probe: list[int]) -> set[int]:
    if isinstance(e, Lit):
        return {ord(e.text[0])} if e.text else set()
    if isinstance(e, Chars):
        return {c for c in probe if c in e}
    if isinstance(e, Seq):
        out: set[int] = set()
        for i in e.items:
            out |= _firsts(i, probe)
            if not _nullable(i):
                break
        return out
    return set().union(*(_firsts(i, probe) for i in _children(e)))


def _deterministic(e: Expr, follow: set[int], probe: list[int]) -> bool:
    """Does the next character always decide the way through `e`? Then Python's regex match
    (leftmost-first) is the longest one, as the Earley scanner needs."""
    if isinstance(e, Seq):
        for i in reversed(e.items):
            if not _deterministic(i, follow, probe):
                return False
            follow = _firsts(i, probe) | (follow if _nullable(i) else set())
        return True
    if isinstance(e, Alt):
        seen: set[int] = set()
        for i in e.items:
            f = _firsts(i, probe)
            if _nullable(i) or f & seen or not _deterministic(i, follow, probe):
                return False
            seen |= f
        return True
    if isinstance(e, Rep):
        body = _firsts(e.body, probe)
        optional = e.hi != e.lo
        inner = follow | body if e.hi is None or e.hi > 1 else follow
        return not (optional and body & follow) and _deterministic(e.body, inner, probe)
    return True


class _Folds:
    """Which parts without rule references one Python regex may match: those that cannot be
    empty and where the next character always decides the way through, so that the regex's
    first match is the longest one (as a scanner needs)."""

    def __init__(self, rules: dict[str, Expr]) -> None:
        ends = {c for e in _all(rules) if isinstance(e, Chars) for r in e.ranges for c in r}
        self.probe = sorted(ends | set(range(128)))
        self.memo: dict[int, tuple[Expr, re.Pattern | None]] = {}  # by id: hashing is slow

    def __call__(self, e: Expr) -> re.Pattern | None:
        if id(e) not in self.memo:  # the entry keeps e alive, so its id stays unique
            rx = None if isinstance(e, Name) or _nullable(e) else _regex(e)
            ok = rx is not None and _deterministic(e, set(), self.probe)
            self.memo[id(e)] = (e, re.compile(rx) if ok else None)  # type: ignore[arg-type]
        return self.memo[id(e)][1]


class _LarkWriter:
    """Writes GBNF rules as a Lark grammar for Earley with lexer="dynamic".

    Foldable parts become one regex terminal each; every group, option and repetition becomes a
    rule of its own, because Lark multiplies out the options inside one rule.
    """

    def __init__(self, rules: dict[str, Expr]) -> None:
        self.rules, self.folds = rules, _Folds(rules)
        self.out = {f"g_{n.replace('-', '_')}": "" for n in rules}
        self.helpers: dict[str, str] = {}
        for n, e in rules.items():
            self.out[f"g_{n.replace('-', '_')}"] = self.expr(e)

    def helper(self, body: str) -> str:
        """A rule for `body`; SELF in it stands for the rule's own name."""
        if body not in self.helpers:
            self.helpers[body] = f"h_{len(self.helpers)}"
            self.out[self.helpers[body]] = body.replace("SELF", self.helpers[body])
        return self.helpers[body]

    def runs(self, items: tuple[Expr, ...]) -> list[Expr]:
        """Neighbours without rule references are joined, to become one terminal."""
        done: list[Expr] = []
        for i in items:
            if done and self.folds(Seq((done[-1], i))):
                done[-1] = Seq((done[-1], i))
            elif i != Lit(""):
                done.append(i)
        return done

    def expr(self, e: Expr) -> str:
        if self.folds(e):
            return "/" + _regex(e) + "/"  # type: ignore[operator]
        if isinstance(e, Name):  # a rule that is one terminal is used as that terminal
            inline = self.folds(self.rules[e.name])
            return self.expr(self.rules[e.name]) if inline else "g_" + e.name.replace("-", "_")
        if isinstance(e, Seq):
            return " ".join(self.expr(i) for i in self.runs(e.items))
        if isinstance(e, Alt):
            return self.helper("\n    | ".join(self.expr(i) for i in e.items))
        assert isinstance(e, Rep)
        body = self.expr(e.body)
        if e.hi is None:
            return " ".join([body] * e.lo + [self.helper(f"SELF {body} | ")])
        tail = ""
        for _ in range(e.hi - e.lo):  # x{0,3} -> (x (x (x)?)?)?
            tail = self.helper(f"{body} {tail} | ")
        return " ".join([body] * e.lo + [tail])


def to_lark(rules: dict[str, Expr]) -> str:
    """An equivalent Lark grammar, start rule `g_root`, for Earley with lexer="dynamic"."""
    return "".join(f"{name}: {body}\n" for name, body in _LarkWriter(rules).out.items())


class Recognizer:
    """A fast second recognizer: the end positions of each rule at each position, memoised.

    GBNF grammars have no left recursion (llama.cpp cannot run it), so plain recursion ends.
    """

    def __init__(self, rules: dict[str, Expr], start: str = "root") -> None:
        self.rules, self.folds, self.start = rules, _Folds(rules), start
        self.text, self.memo = "", {}

    def accepts(self, text: str) -> bool:
        self.text, self.memo = text, {}
        return len(text) in self.ends(Name(self.start), 0)

    def ends(self, e: Expr, pos: int) -> set[int]:
        rx = self.folds(e)
        if rx is not None:
            m = rx.match(self.text, pos)
            return {m.end()} if m else set()
        if isinstance(e, Name):
            if (e.name, pos) not in self.memo:
                self.memo[(e.name, pos)] = self.ends(self.rules[e.name], pos)
            return self.memo[(e.name, pos)]
        if isinstance(e, Lit):
            return {pos + len(e.text)} if self.text.startswith(e.text, pos) else set()
        if isinstance(e, Chars):
            return {pos + 1} if pos < len(self.text) and ord(self.text[pos]) in e else set()
        if isinstance(e, Alt):
            return {q for i in e.items for q in self.ends(i, pos)}
        if isinstance(e, Seq):
            now = {pos}
            for i in e.items:
                now = {q for p in now for q in self.ends(i, p)}
            return now
        assert isinstance(e, Rep)
        out, now, n = ({pos} if e.lo == 0 else set()), {pos}, 0
        while now and (e.hi is None or n < e.hi):
            n += 1
            now = {q for p in now for q in self.ends(e.body, p)} - (out if n > e.lo else set())
            out |= now if n >= e.lo else set()
        return out


class Ways:
    """The ways llama.cpp follows through a grammar at once: after each character, one stack of
    positions per way (the next character's element on top), built as its sampler builds them
    (groups and `* + ? {m,n}` as rules of their own). The sampler checks the whole vocabulary
    against every stack, at every token, so their number is what constrained sampling costs."""

    def __init__(self, rules: dict[str, Expr]) -> None:
        self.alts: dict[str, list[tuple[Expr, ...]]] = {"": [(Name("root"),)]}
        self.memo: dict[int, tuple[Expr, str]] = {}  # by id: the entry keeps the key alive
        for name, e in rules.items():
            self.alts[name] = self._alternatives(e)

    def counts(self, text: str) -> list[int]:
        """How many stacks are open after each character of `text` (which must be accepted)."""
        stacks, out = self._advance((("", 0, 0),)), []
        for i, c in enumerate(text):
            stacks = {n for s in stacks for n in self._step(s, ord(c))}
            assert stacks, f"the grammar stops at {text[max(0, i - 40) : i + 1]!r}"
            out.append(len(stacks))
        return out

    def _alternatives(self, e: Expr) -> list[tuple[Expr, ...]]:
        return [self._elements(i) for i in (e.items if isinstance(e, Alt) else (e,))]

    def _elements(self, e: Expr) -> tuple[Expr, ...]:
        if isinstance(e, Seq):
            return tuple(x for i in e.items for x in self._elements(i))
        if isinstance(e, Lit):
            return tuple(Chars(((ord(c), ord(c)),), False) for c in e.text)
        if isinstance(e, Chars | Name):
            return (e,)
        if id(e) not in self.memo:
            self.memo[id(e)] = (e, self._helper(e))  # type: ignore[arg-type]
        return (Name(self.memo[id(e)][1]),)

    def _helper(self, e: Alt | Rep) -> str:
        name = f"{len(self.alts)}"  # not a GBNF name, so no clash
        self.alts[name] = []
        if isinstance(e, Alt):
            self.alts[name] = self._alternatives(e)
            return name
        body = self._elements(e.body)
        if e.hi is None:  # x{m,} = m times x, then `r ::= x r | ` as llama.cpp writes x*
            self.alts[name] = [(*body, Name(f"{name}*")), ()]
            self.alts[f"{name}*"] = self.alts[name]
            self.alts[name] = [body * e.lo + (Name(f"{name}*"),)]
            return name
        tail: tuple[Expr, ...] = ()
        for k in range(e.hi - e.lo):  # x{m,n} = m times x, then `(x (x ...)?)?`
            self.alts[f"{name}?{k}"] = [(*body, *tail), ()]
            tail = (Name(f"{name}?{k}"),)
        self.alts[name] = [body * e.lo + tail]
        return name

    def _advance(self, stack: tuple) -> set[tuple]:
        """The stacks `stack` becomes, each with a character (or nothing) on top."""
        out, todo, seen = set(), [stack], set()
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen.add(s)
            if s and isinstance(self._top(s), Name):
                rule, alt, i = s[-1]
                below = s[:-1] + (
                    ((rule, alt, i + 1),) if i + 1 < len(self.alts[rule][alt]) else ()
                )
                name = self._top(s).name  # type: ignore[attr-defined]
                todo += [
                    below + (((name, k, 0),) if a else ()) for k, a in enumerate(self.alts[name])
                ]
            else:
                out.add(s)
        return out

    def _top(self, s: tuple) -> Expr:
        rule, alt, i = s[-1]
        return self.alts[rule][alt][i]

    def _step(self, s: tuple, c: int) -> set[tuple]:
        if not s or c not in self._top(s):  # type: ignore[operator]
            return set()
        rule, alt, i = s[-1]
        return self._advance(
            s[:-1] + (((rule, alt, i + 1),) if i + 1 < len(self.alts[rule][alt]) else ())
        )


def normalise(text: str) -> str:
    """A program as a model would write it under the grammar: no comments, no blank lines,
    lines continued inside brackets or after a backslash joined into one."""
    out: list[str] = []
    depth, i = 0, 0
    while i < len(text):
        c = text[i]
        quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c if c in "\"'" else ""
        if quote:
            j = i + len(quote)
            while not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + len(quote)])
            i = j + len(quote)
        elif c == "#":
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif (c == "\n" and depth) or text.startswith("\\\n", i):
            i = re.compile(r"\\?\n[ \t]*").match(text, i).end()  # type: ignore[union-attr]
            if out and out[-1][-1:] not in "([{ " and text[i : i + 1] not in ")]}":
                out.append(" ")
        else:
            depth += (c in "([{") - (c in ")]}")
            out.append(c)
            i += 1
    lines = [line.rstrip() for line in "".join(out).split("\n")]
    return "\n".join(line for line in lines if line.strip()) + "\n"
