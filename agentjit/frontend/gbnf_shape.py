"""Rewrites of grammar rules that keep their languages and shape them for llama.cpp.

llama.cpp cannot run left recursion, and it keeps one stack per way through the grammar, each
as deep as the rules it passes through (see agentjit.frontend.gbnf_nodes). So: left recursion
becomes iteration (`no_left_recursion`); precedence levels that differ only in the trees Lark
builds are joined into one loop over operators (`flatten`: nine levels, `or_test` to `factor`,
are one), and rules that are only a choice of tokens are written where they are used
(`inline_tokens`), so that the operators after an operand are one choice; where several
alternatives may start with the same token, such as an identifier (`x = 1`, `x += 1`, `x.f()`
as statements; `f(x)` and `f(x=1)`), that token is taken out in front (`factor`), so one way
goes on after it. `Splitter` splits a rule by its last token where the spacing after it differs.
"""

from __future__ import annotations

from collections.abc import Callable

from agentjit.frontend.gbnf_nodes import (
    EMPTY,
    Alt,
    Analysis,
    GbnfError,
    Node,
    Ref,
    Rep,
    Seq,
    Tok,
    alt,
    alternatives,
    kids,
    rep,
    seq,
    walk,
)

Spaced = Callable[[str, str], bool]  # is there a space between these two tokens?


def no_left_recursion(rules: dict[str, Node]) -> dict[str, Node]:
    """`r: r a | r b | c` -> `r: c (a | b)*`; left recursion through other rules is an error."""
    for name, body in rules.items():
        alts = alternatives(body)
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


def flatten(rules: dict[str, Node]) -> dict[str, Node]:
    """Precedence levels joined, languages unchanged: `f: "-" f | g` -> `f: "-"* g`, then
    `a: P b (u P b)*` with `b: Q c (t c)*` -> `a: P Q c ((t | u P Q) c)*` until no rule changes."""
    an = Analysis(rules)
    for name in rules:
        rules[name] = _tail_loop(name, rules[name], an)
    changed = True
    while changed:
        changed = False
        for name, body in rules.items():
            joined = _join_chain(name, body, rules)
            if joined is not None:
                rules[name], changed = joined, True
    return rules


def _tail_loop(name: str, body: Node, an: Analysis) -> Node:
    """`r: a r | b r | c` -> `r: (a | b)* c` when `a` and `b` cannot start like `c`."""
    alts = alternatives(body)
    loops = [a.items[:-1] for a in alts if isinstance(a, Seq) and a.items[-1] == Ref(name)]
    rest = [a for a in alts if not any(x == Ref(name) for x in walk(a))]
    if not loops or len(loops) + len(rest) != len(alts):
        return body
    head, tail = alt([seq(p) for p in loops]), alt(rest)
    if any(an.nullable(Seq(p)) for p in loops) or an.edge(head, 0) & an.edge(tail, 0):  # type: ignore
        return body
    return seq([Rep(head, 0, None), tail]) or body  # type: ignore[list-item]


def _chain(node: Node) -> tuple[list[Node], Ref, Node | None] | None:
    """`P x (u x)*` or `P x`, with P optional prefixes: (P, x, u or None)."""
    items = list(node.items) if isinstance(node, Seq) else [node]
    loop = None
    last = items[-1]
    if len(items) > 1 and isinstance(last, Rep) and (last.lo, last.hi) == (0, None):
        body = last.body
        if isinstance(body, Seq) and len(body.items) > 1 and body.items[-1] == items[-2]:
            loop, items = seq(body.items[:-1]), items[:-1]
    *prefix, x = items
    optional = all(isinstance(p, Rep) and p.lo == 0 for p in prefix)
    return (prefix, x, loop) if isinstance(x, Ref) and optional else None


def _join_chain(name: str, body: Node, rules: dict[str, Node]) -> Node | None:
    outer = _chain(body)
    inner = outer and outer[1].name != name and _chain(rules[outer[1].name])
    if not outer or not inner or inner[1].name in (name, outer[1].name):
        return None
    (p, _, u), (q, y, t) = outer, inner
    step = _suffixes([x for x in (t, u and seq([u, *q])) if x is not None])
    return seq([*p, *q, y, rep(step and seq([step, y]), 0, None)])


def _suffixes(options: list[Node]) -> Node | None:
    """A choice with common last items factored (`a "-"* | b "-"*` -> `(a | b) "-"*`), so that
    what precedes the optional part is known where it ends."""
    groups: dict[Node | None, list[Node]] = {}
    for o in (x for i in options for x in alternatives(i)):
        groups.setdefault(o.items[-1] if isinstance(o, Seq) else None, []).append(o)
    parts = [
        seq([_suffixes([seq(o.items[:-1]) for o in g]), last])  # type: ignore[union-attr]
        if last is not None and len(g) > 1
        else alt(g)
        for last, g in groups.items()
    ]
    return alt(parts)


def inline_tokens(rules: dict[str, Node], layout: set[str]) -> dict[str, Node]:
    """Rules that are choices of tokens (`add_op: "+" | "-"`) written where they are used, so
    that the operators of one loop become one choice, spelled one character at a time."""
    small = {
        n: b
        for n, b in rules.items()
        if not any(isinstance(x, Ref) or (isinstance(x, Tok) and x.name in layout) for x in walk(b))
    }
    return {n: _inline(b, small) for n, b in rules.items()}


def open_heads(rules: dict[str, Node]) -> dict[str, Node]:
    """`expr: or_test ["if" ...]`, where or_test ends in a loop over operators: or_test's items
    written in expr, so that the loop and the option after it, which open alike (`" "`), can
    be written as one loop (agentjit.frontend.gbnf): one way after each operand, not two."""

    def opened(alternative: Node, name: str) -> Node:
        head, *rest = alternative.items if isinstance(alternative, Seq) else (alternative,)
        body = rules.get(head.name) if isinstance(head, Ref) and head.name != name else None
        loop = (
            isinstance(body, Seq) and isinstance(body.items[-1], Rep) and body.items[-1].hi is None
        )
        if not (loop and rest and isinstance(rest[0], Rep) and rest[0].hi == 1):
            return alternative
        return seq([*body.items, *rest]) or alternative  # type: ignore[union-attr]

    return {n: alt([opened(a, n) for a in alternatives(b)]) or b for n, b in rules.items()}


def _inline(node: Node, small: dict[str, Node]) -> Node:
    if isinstance(node, Ref):
        return small.get(node.name, node)
    if isinstance(node, Rep):
        return Rep(_inline(node.body, small), node.lo, node.hi)
    if isinstance(node, Seq):
        return seq([_inline(i, small) for i in node.items]) or node
    if isinstance(node, Alt):
        return alt([_inline(i, small) for i in node.items]) or node
    return node


# ---- one way after a shared first token -----------------------------------------------------


def factor(rules: dict[str, Node], tokens: list[str]) -> dict[str, Node]:
    """Choices where several alternatives may start with one of `tokens` take it out in front:
    `a: T x | y` -> `a: T (x | y/T) | y-T`, where y/T is what may follow T at the start of y
    and y-T is the rest of y; y is opened along its left edge only, which is finite. Only the
    alternatives of rules are looked at: inside a rule, common heads are factored already."""
    quotient = _Quotient(rules)
    return {name: quotient.factored(body, tokens) for name, body in rules.items()}


class _Quotient:
    def __init__(self, rules: dict[str, Node]) -> None:
        self.rules, self.an = rules, Analysis(rules)

    def factored(self, node: Node, tokens: list[str]) -> Node:
        """A rule's choice of alternatives, factored (choices inside rules stay as they are)."""
        items = list(alternatives(node))
        for t in tokens:
            hits = [i for i in items if t in self.an.edge(i, 0)]
            if len(hits) > 1:
                after = alt([self.after(i, t) for i in hits])
                items = [seq([Tok(t), after]), *(self.rest(i, t) for i in items)]  # type: ignore
        return alt(items) or node

    def after(self, node: Node, t: str) -> Node | None:
        """What may follow a leading `t` in `node` (None: `node` cannot start with `t`)."""
        if t not in self.an.edge(node, 0):
            return None
        if isinstance(node, Tok):
            return EMPTY
        if isinstance(node, Ref):
            return self.after(self.rules[node.name], t)
        if isinstance(node, Alt):
            return alt([self.after(i, t) for i in node.items])
        if isinstance(node, Rep):
            return seq([self.after(node.body, t), self.more(node)])
        head, tail = node.items[0], seq(node.items[1:]) or EMPTY  # type: ignore[union-attr]
        skipped = self.after(tail, t) if self.an.nullable(head) else None
        return alt([seq([self.after(head, t), tail]), skipped])

    def rest(self, node: Node, t: str) -> Node | None:
        """The strings of `node` that are not empty and do not start with `t`."""
        if isinstance(node, Tok):
            return None if node.name == t else node
        if isinstance(node, Ref):
            clear = t not in self.an.edge(node, 0) and not self.an.nullable(node)
            return node if clear else self.rest(self.rules[node.name], t)
        if isinstance(node, Alt):
            return alt([self.rest(i, t) for i in node.items])
        if isinstance(node, Rep):
            if self.an.nullable(node.body):
                raise GbnfError(
                    f"cannot open up the repetition of a part that may be empty: {node}"
                )
            return seq([self.rest(node.body, t), self.more(node)])
        head, tail = node.items[0], seq(node.items[1:]) or EMPTY  # type: ignore[union-attr]
        skipped = self.rest(tail, t) if self.an.nullable(head) else None
        return alt([seq([self.rest(head, t), tail]), skipped])

    @staticmethod
    def more(node: Rep) -> Node:
        """What may follow one round of `node`."""
        hi = None if node.hi is None else node.hi - 1
        return rep(node.body, max(node.lo - 1, 0), hi) or EMPTY


# ---- splitting rules by the spacing after them ------------------------------------------------


class Splitter:
    """Splits a rule by its last token where the space needed after it differs (`1 .real`)."""

    def __init__(self, rules: dict[str, Node], layout: set[str], spaced: Spaced) -> None:
        self.rules, self.spaced = dict(rules), spaced
        self.layout = layout_rules(self.rules, layout)
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
                spaced = frozenset(b for b in follow if self.spaced(a, b))
                groups.setdefault(spaced, set()).add(a)
            alts = alternatives(self.rules[x.name])
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


def layout_rules(rules: dict[str, Node], layout: set[str]) -> set[str]:
    """Rules that contain a layout token, directly or through other rules."""
    found: set[str] = set()
    while True:
        new = {n for n, b in rules.items() if any(mentions(x, layout | found) for x in walk(b))}
        if new == found:
            return found
        found = new


def mentions(node: Node, names: set[str]) -> bool:
    return isinstance(node, (Tok, Ref)) and node.name in names
