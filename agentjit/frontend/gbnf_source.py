"""grammar.lark read for the GBNF generator: its rules as expressions, its tokens as
characters, and how tokens are spaced (agentjit.frontend.gbnf writes them out).

* Tokens. String literals become GBNF literals and regexes are translated opcode by opcode.
  `SUBSETS` replaces the regexes GBNF cannot say (lookaround) or that we offer only in part by
  sound subsets: plain strings with simple escapes, no prefixes, floats with digits on both sides
  of the dot. Lark retypes a NAME that equals a literal ("if", "None", "use") to that keyword, so
  NAME is built as a trie of those words; where NAME and some of those words are alternatives of
  one choice (`atom: NAME | "True" | ...`), the trie lets them through (`chars`).
* Spacing. `%ignore` lets a space separate tokens, and the grammar offers exactly one spelling,
  so that llama.cpp follows one way: a space where leaving it out could change the tokens (`in
  x`, `1 .real`, `if "a"`: decided by running Lark's own lexer on samples of both tokens, `glue`)
  or where the usual style puts one (after `,` and `:`, around operators and keywords: `Style`,
  with `ROLES` for the `=` of keyword arguments and signs), and none elsewhere.
* Rules. Read from Lark's own grammar trees, without `NOT_OFFERED` (what the parser accepts only
  to explain it), then reshaped without changing their languages (agentjit.frontend.gbnf_shape).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lark import Lark, Tree
from lark.exceptions import LarkError
from lark.grammar import NonTerminal, Terminal
from lark.lexer import LexerThread, PatternStr
from lark.load_grammar import load_grammar

from agentjit.frontend.gbnf_nodes import (
    Alt,
    Analysis,
    GbnfError,
    Lit,
    Node,
    Ref,
    Rep,
    Seq,
    Tok,
    alt,
    from_regex,
    rep,
    sample,
    seq,
    walk,
    without,
)
from agentjit.frontend.gbnf_shape import flatten, inline_tokens, no_left_recursion, open_heads
from agentjit.frontend.syntax import DslIndenter

NOT_OFFERED = frozenset({"attr_assign", "item_assign"})
ROLES = {  # (rule, literal): how a token is spaced there when that differs from its usual way
    ("argument", "="): "tight",  # `f(x=1)`: no space on either side
    ("factor", "-"): "prefix",  # `-x`: no space after
    ("factor", "+"): "prefix",
}
_CTL = r"\x00-\x08\x0b-\x1f"  # control characters but tab and newline
SUBSETS = {
    "FLOAT_NUMBER": r"[0-9](_?[0-9])*\.[0-9](_?[0-9])*([eE][+-]?[0-9]+)?",
    "STRING": rf"\"([^\"\\\t\n{_CTL}]|\\[\\\"'nrt])*\"|'([^'\\\t\n{_CTL}]|\\[\\\"'nrt])*'",
    "LONG_STRING": rf"\"\"\"([^\"\\{_CTL}]|\"[^\"\\{_CTL}]|\\[\\'nrt])*\"\"\""
    rf"|'''([^'\\{_CTL}]|'[^'\\{_CTL}]|\\[\\\"nrt])*'''",
}


def base(name: str) -> str:
    """A token's Lark name without its role (`EQUAL/tight` -> `EQUAL`)."""
    return name.split("/")[0]


# ---- reading grammar.lark ---------------------------------------------------------------------


def from_tree(tree: Any, literals: dict[str, str]) -> Node | None:
    """One rule of Lark's grammar tree -> an expression (None: nothing we offer)."""
    if isinstance(tree, (Terminal, NonTerminal)):
        return (Tok if isinstance(tree, Terminal) else Ref)(tree.name)
    parts = [
        from_tree(k, literals)
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


def _with_roles(node: Node, roles: dict[str, str]) -> Node:
    if isinstance(node, Tok):
        return Tok(f"{node.name}/{roles[node.name]}") if node.name in roles else node
    if isinstance(node, Rep):
        return Rep(_with_roles(node.body, roles), node.lo, node.hi)
    if isinstance(node, (Seq, Alt)):
        return type(node)(tuple(_with_roles(i, roles) for i in node.items))
    return node


def _read_rules(path: Path, terminals: dict[str, str]) -> dict[str, Node]:
    raw: dict[str, Node | None] = {}
    for name, params, tree, _ in load_grammar(path.read_text(), str(path), [], False)[0].rule_defs:
        if params:
            raise GbnfError(f"rule templates such as {name!r} are not supported")
        roles = {terminals[t]: r for (rule, t), r in ROLES.items() if rule == str(name)}
        node = from_tree(tree, terminals)
        raw[str(name)] = node and _with_roles(node, roles)
    if empty := [n for n, b in raw.items() if b is None]:
        raise GbnfError(f"rules {empty} offer nothing once NOT_OFFERED is left out")
    layout = {DslIndenter.NL_type, DslIndenter.INDENT_type, DslIndenter.DEDENT_type}
    flat = flatten(no_left_recursion(raw))  # type: ignore[arg-type]
    return open_heads(inline_tokens(flat, layout))


# ---- tokens, spacing --------------------------------------------------------------------------


@dataclass
class Token:
    """One terminal: its characters, edge characters and samples for probing the lexer."""

    node: Node
    fixed: str | None  # the text of a literal terminal
    firsts: frozenset[int]
    lasts: frozenset[int]
    left: list[str]  # a sample ending with each possible last character
    right: list[str]  # a sample starting with each possible first character
    word: Node | None = None  # an identifier token before its keywords were taken out
    keywords: frozenset[str] = frozenset()


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
        used = {base(n.name) for b in self.rules.values() for n in walk(b) if isinstance(n, Tok)}
        self.word = {c for c in range(128) if chr(c).isalnum() or chr(c) == "_"}  # these glue
        self.tokens = {t: self._token(t, fixed) for t in sorted(used - set(self.layout))}
        self.style = Style(self)
        self.glued: dict[tuple[str, str], bool] = {}

    def token(self, name: str) -> Token:
        return self.tokens[base(name)]

    def lex(self, text: str) -> list[tuple[str, str]]:
        try:
            return [(t.type, str(t)) for t in LexerThread.from_text(self.basic, text).lex(None)]
        except LarkError:
            return []

    def _token(self, name: str, fixed: dict[str, str]) -> Token:
        """The terminal as characters; its samples must lex as itself, each alone."""
        pattern = self.lexer.get_terminal(name).pattern
        word, keywords = None, frozenset()
        if name in fixed:
            node: Node = Lit(fixed[name])
        elif set(pattern.flags) - {"s"}:
            raise GbnfError(f"{name}: regex flags {pattern.flags} are not supported")
        else:
            node = from_regex(SUBSETS.get(name, pattern.value), "s" in pattern.flags)
            keywords = frozenset(w for w in fixed.values() if re.fullmatch(pattern.to_regexp(), w))
            word, node = (node, without(set(keywords), node, name)) if keywords else (None, node)
        rngs = [random.Random(f"{name}{i}") for i in range(300)]
        samples = [fixed[name]] if name in fixed else sorted({sample(node, r) for r in rngs})
        for text in samples:
            if self.lex(text) != [(name, text)]:
                raise GbnfError(f"{name}: its GBNF sample {text!r} lexes as {self.lex(text)}")
        by_last = {s[-1]: s for s in sorted(samples, key=len, reverse=True)}
        by_first = {s[0]: s for s in sorted(samples, key=len, reverse=True)}
        ends = Analysis().edge(node, 0), Analysis().edge(node, -1)
        left, right = [*by_last.values()], [*by_first.values()]
        return Token(node, fixed.get(name), *ends, left, right, word, keywords)

    def chars(self, names: Sequence[str]) -> Node:
        """The characters of any of the tokens `names`. Where an identifier is among them with
        some of its keywords (`NAME | "True"`), its trie lets those through instead."""
        tokens = [self.token(n) for n in names]
        texts = {t.fixed for t in tokens} - {None}
        words = [t for t in tokens if t.word is not None]
        let = set().union(*(t.keywords & texts for t in words))
        parts = [without(set(t.keywords - let), t.word, "") for t in words]  # type: ignore[arg-type]
        parts += [t.node for t in tokens if t.word is None and t.fixed not in let]
        return alt(parts)  # type: ignore[return-value]

    def glue(self, a: str, b: str) -> bool:
        """Could `a` written right before `b` lex differently? Then a space is required."""
        a, b = base(a), base(b)
        if a in self.layout or b in self.layout:
            return False
        if (a, b) not in self.glued:
            ta, tb = self.tokens[a], self.tokens[b]
            words = bool(ta.lasts & self.word and tb.firsts & self.word)
            self.glued[(a, b)] = words or any(
                self.lex(x + y) != [(a, x), (b, y)] for x in ta.left for y in tb.right
            )
        return self.glued[(a, b)]

    def spaced(self, a: str, b: str) -> bool:
        """Is there a space between `a` and `b` on one line?"""
        if base(a) in self.layout or base(b) in self.layout:
            return False
        return self.glue(a, b) or self.style.space(a, b)


class Style:
    """The one spelling offered where a space is optional: `f(a, b[i].c)`, `x = -1 if a else b`,
    `lambda p: p.price`, `return [x]`, `{'a': 1}`, `f(key=v)`, `x not in y`, `else:`."""

    TIGHT_BEFORE = frozenset(")]},:.")
    TIGHT_AFTER = frozenset("([{.")
    OPERATOR = frozenset("=<>!+-*/%")

    def __init__(self, src: Source) -> None:
        self.src = src
        bare = {  # `atom: NAME | ... | "True"`: words offered as operands are spaced like NAME
            base(t.name)
            for b in src.rules.values()
            for x in walk(b)
            if isinstance(x, Alt) and any(_plain(i, src) for i in x.items)
            for t in x.items
            if isinstance(t, Tok)
        }
        word = re.compile(r"[A-Za-z_]\w*")
        texts = {n: t.fixed for n, t in src.tokens.items() if t.fixed}
        self.keywords = {n for n, text in texts.items() if word.fullmatch(text) and n not in bare}
        self.operators = {
            n for n, t in src.tokens.items() if all(set(s) <= self.OPERATOR for s in t.right)
        }

    def space(self, a: str, b: str) -> bool:
        role_a, role_b = a.partition("/")[2], b.partition("/")[2]
        text_a, text_b = self.src.token(a).fixed, self.src.token(b).fixed
        if role_b == "tight" or role_a in ("tight", "prefix"):
            return False
        if text_b in self.TIGHT_BEFORE or text_a in self.TIGHT_AFTER:
            return False
        a, b = base(a), base(b)
        if text_a in (",", ":") or a in self.operators or b in self.operators:
            return True
        return a in self.keywords or b in self.keywords  # `return [x]`, `x if c`, `not (x)`


def _plain(node: Node, src: Source) -> bool:
    """Is `node` a token that is not a literal (NAME, STRING, ...)?"""
    return isinstance(node, Tok) and node.name in src.tokens and src.tokens[node.name].fixed is None
