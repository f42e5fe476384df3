"""Lark set-up for the DSL and the translation of Lark's errors into our diagnostics.

Owns the parser object (LALR, contextual lexer, a Python-style indenter that reports bad
indentation with a location) and `parse_tree`, which parses with recovery: after a syntax error
it blanks the offending line (keeping line numbers, and keeping the block structure when the line
opens a block) and parses again, so one run reports several independent syntax errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import Indenter
from lark.lexer import PatternStr

from agentjit.ir import Diagnostic, Location, error

MAX_SYNTAX_ERRORS = 10

_FRIENDLY = {
    "NAME": "a name",
    "_NEWLINE": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "end of the indented block",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "DEC_NUMBER": "a number",
    "FLOAT_NUMBER": "a number",
    "AUGOP": "'+='",
    "$END": "end of file",
}


class IndentationProblem(Exception):
    """Raised by the indenter with the position of the offending line."""

    def __init__(self, message: str, token: Token | None) -> None:
        super().__init__(message)
        self.token = token


class DslIndenter(Indenter):
    """Python's indentation rules; errors carry the line they are about."""

    NL_type = "_NEWLINE"
    OPEN_PAREN_types = ("LPAR", "LSQB", "LBRACE")
    CLOSE_PAREN_types = ("RPAR", "RSQB", "RBRACE")
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token: Token) -> Iterator[Token]:
        if self.paren_level > 0:
            return
        yield token
        indent_str = token.rsplit("\n", 1)[1]
        indent = indent_str.count(" ") + indent_str.count("\t") * self.tab_len
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield Token.new_borrow_pos(self.INDENT_type, indent_str, token)
            return
        while indent < self.indent_level[-1]:
            self.indent_level.pop()
            yield Token.new_borrow_pos(self.DEDENT_type, indent_str, token)
        if indent != self.indent_level[-1]:
            raise IndentationProblem(
                f"unindent to column {indent + 1} does not match any outer block "
                f"(expected column {self.indent_level[-1] + 1})",
                token,
            )

    def _process(self, stream: Iterator[Token]) -> Iterator[Token]:
        token = None
        for token in stream:
            if token.type == self.NL_type:
                yield from self.handle_NL(token)
            else:
                yield token
            if token.type in self.OPEN_PAREN_types:
                self.paren_level += 1
            elif token.type in self.CLOSE_PAREN_types:
                if self.paren_level == 0:
                    raise IndentationProblem(f"unmatched '{token}'", token)
                self.paren_level -= 1
        while len(self.indent_level) > 1:
            self.indent_level.pop()
            if token is not None:
                yield Token.new_borrow_pos(self.DEDENT_type, "", token)
            else:
                yield Token(self.DEDENT_type, "", 0, 1, 1, 1, 1, 0)


@cache
def dsl_parser() -> Lark:
    return Lark.open(
        "grammar.lark",
        rel_to=__file__,
        parser="lalr",
        postlex=DslIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
    )


def _describe_terminal(name: str) -> str:
    if name in _FRIENDLY:
        return _FRIENDLY[name]
    try:
        pattern = dsl_parser().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if isinstance(pattern, PatternStr) else name


def _expected_hint(expected: set[str]) -> str:
    names = sorted({_describe_terminal(n) for n in expected})
    if names == ["':'"]:
        return "expected ':' — block headers (def, if, elif, else, for) end with a colon"
    if len(names) > 12:
        names = [*names[:12], "..."]
    return "expected " + (names[0] if len(names) == 1 else "one of: " + ", ".join(names))


def _token_loc(file: str, token: Token) -> Location:
    line = token.line or 1
    col = token.column or 1
    end_col = token.end_column if token.end_line == line and token.end_column else col + 1
    return Location(file, line, col, line, max(end_col, col + 1))


def syntax_diagnostic(exc: Exception, file: str) -> Diagnostic:
    """Our diagnostic for a Lark exception (or an indentation problem) raised on `file`."""
    if isinstance(exc, IndentationProblem):
        tok = exc.token
        line = (tok.end_line or tok.line or 1) if tok is not None else 1
        loc = Location(file, line, 1, line, 2) if tok is not None else Location(file, 1, 1, 1, 2)
        if tok is not None and tok.type != "_NEWLINE":
            loc = _token_loc(file, tok)
        return error("syntax", str(exc), loc, "indent blocks consistently (4 spaces)")
    if isinstance(exc, UnexpectedCharacters):
        loc = Location(file, exc.line, exc.column, exc.line, exc.column + 1)
        return error(
            "syntax",
            f"unexpected character {exc.char!r}",
            loc,
            _expected_hint(set(exc.allowed or ())),
        )
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(exc, file)
    if isinstance(exc, UnexpectedEOF):
        return error(
            "syntax",
            "unexpected end of file",
            Location(file, 1, 1, 1, 2),
            _expected_hint(set(exc.expected)),
        )
    return error("syntax", f"cannot parse: {exc}", Location(file, 1, 1, 1, 2))


def _unexpected_token(exc: UnexpectedToken, file: str) -> Diagnostic:
    tok = exc.token
    hint = _expected_hint(set(exc.expected))
    if tok.type == "$END":
        return error("syntax", "unexpected end of file", Location(file, 1, 1, 1, 2), hint)
    if tok.type == "_INDENT":
        line = tok.end_line or tok.line
        return error("syntax", "unexpected indent", Location(file, line, 1, line, 2), hint)
    if tok.type == "_DEDENT":
        line = tok.end_line or tok.line
        return error(
            "syntax", "unexpected end of the indented block", Location(file, line, 1, line, 2), hint
        )
    if tok.type == "_NEWLINE":
        loc = Location(file, tok.line, tok.column, tok.line, tok.column + 1)
        return error("syntax", "unexpected end of line", loc, hint)
    return error("syntax", f"unexpected {str(tok)!r}", _token_loc(file, tok), hint)


def _blank_line(text: str, line_no: int) -> str | None:
    """`text` with line `line_no` neutralised, or None when that cannot help."""
    lines = text.split("\n")
    if not 1 <= line_no <= len(lines):
        return None
    line = lines[line_no - 1]
    stripped = line.lstrip()
    if not stripped or stripped.startswith(("pass", "if True:")):
        return None
    indent = line[: len(line) - len(stripped)]
    following = next((ln for ln in lines[line_no:] if ln.strip()), "")
    opens_block = len(following) - len(following.lstrip()) > len(indent)
    lines[line_no - 1] = indent + ("if True:" if opens_block else "pass")
    return "\n".join(lines)


def parse_tree(text: str, file: str) -> tuple[Tree | None, list[Diagnostic]]:
    """Parse with recovery: the tree (None after any syntax error) and the syntax diagnostics."""
    diagnostics: list[Diagnostic] = []
    attempt = text if text.endswith("\n") else text + "\n"
    for _ in range(MAX_SYNTAX_ERRORS):
        try:
            tree = dsl_parser().parse(attempt)
        except (UnexpectedInput, IndentationProblem) as exc:
            diag = syntax_diagnostic(exc, file)
            if any(d.loc.line == diag.loc.line for d in diagnostics):
                break
            diagnostics.append(diag)
            repaired = _blank_line(attempt, diag.loc.line)
            if repaired is None:
                break
            attempt = repaired
        else:
            return (tree if not diagnostics else None), diagnostics
    return None, diagnostics
