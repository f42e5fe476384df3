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

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        self.open_brackets: list[Token] = []
        return super().process(stream)

    def _process(self, stream: Iterator[Token]) -> Iterator[Token]:
        token = None
        for token in stream:
            if token.type == self.NL_type:
                yield from self.handle_NL(token)
            else:
                yield token
            if token.type in self.OPEN_PAREN_types:
                self.paren_level += 1
                self.open_brackets.append(token)
            elif token.type in self.CLOSE_PAREN_types:
                if self.paren_level == 0:
                    raise IndentationProblem(f"unmatched '{token}'", token)
                self.paren_level -= 1
                self.open_brackets.pop()
        while len(self.indent_level) > 1:
            self.indent_level.pop()
            if token is not None:
                yield Token.new_borrow_pos(self.DEDENT_type, "", token)
            else:
                yield Token(self.DEDENT_type, "", 0, 1, 1, 1, 1, 0)


_INDENTER = DslIndenter()
_INDENTER.open_brackets = []


@cache
def dsl_parser() -> Lark:
    return Lark.open(
        "grammar.lark",
        rel_to=__file__,
        parser="lalr",
        postlex=_INDENTER,
        propagate_positions=True,
        maybe_placeholders=True,
    )


def _describe_terminal(name: str) -> str:
    """A readable name for a grammar terminal: `':'`, "a name", "end of line"."""
    if name in _FRIENDLY:
        return _FRIENDLY[name]
    try:
        pattern = dsl_parser().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if isinstance(pattern, PatternStr) else name


UNSUPPORTED_STATEMENTS = {
    "while": ("while loops are not supported", "loop over a finite list: for i in range(n):"),
    "import": ("imports are not supported", "programs use their sites' tools and the builtins"),
    "from": ("imports are not supported", "programs use their sites' tools and the builtins"),
    "class": ("classes are not supported", "tools return records; use dicts for your own data"),
    "try": ("try/except is not supported", "the runtime handles tool failures"),
    "with": ("'with' is not supported", "call the tools directly"),
    "raise": ("'raise' is not supported", 'stop the run with: assert condition, "message"'),
    "del": ("'del' is not supported", "values are immutable: build a new one instead"),
    "global": ("'global' is not supported", "pass values as function arguments"),
    "nonlocal": ("'nonlocal' is not supported", "pass values as function arguments"),
    "yield": ("'yield' is not supported", "build and return a list instead"),
    "async": ("async code is not supported", "tool calls need no await: call them directly"),
    "await": ("'await' is not needed", "call tools directly: items = list_products()"),
}


def _expected_names(expected: set[str], in_brackets: bool) -> list[str]:
    if in_brackets:
        expected = expected - {"_NEWLINE"}
    return sorted({_describe_terminal(n) for n in expected})


def _expected_hint(names: list[str]) -> str:
    if len(names) > 12:
        names = [*names[:12], "..."]
    return "expected " + (names[0] if len(names) == 1 else "one of: " + ", ".join(names))


def _token_loc(file: str, token: Token) -> Location:
    line = token.line or 1
    col = token.column or 1
    end_col = token.end_column if token.end_line == line and token.end_column else col + 1
    return Location(file, line, col, line, max(end_col, col + 1))


def _end_of_text(file: str, text: str) -> Location:
    lines = text.rstrip().split("\n")
    line = len(lines)
    col = len(lines[-1]) + 1
    return Location(file, line, col, line, col + 1)


def _line_text(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line - 1] if 1 <= line <= len(lines) else ""


def syntax_diagnostic(exc: Exception, file: str, text: str) -> Diagnostic:
    """Our diagnostic for a Lark exception (or an indentation problem) raised on `text`."""
    diag = _basic_diagnostic(exc, file, text)
    return _unsupported_statement(diag, text) or _unclosed_bracket(diag, file) or diag


def _basic_diagnostic(exc: Exception, file: str, text: str) -> Diagnostic:
    in_brackets = bool(_INDENTER.open_brackets)
    if isinstance(exc, IndentationProblem):
        tok = exc.token
        if tok is None:
            return error("syntax", str(exc), _end_of_text(file, text))
        if tok.type == "_NEWLINE":
            line = tok.end_line or tok.line or 1
            col = len(tok.rsplit("\n", 1)[-1]) + 1
            loc = Location(file, line, col, line, col + 1)
        else:
            loc = _token_loc(file, tok)
        return error("syntax", str(exc), loc, "indent each block consistently (4 spaces)")
    if isinstance(exc, UnexpectedCharacters):
        loc = Location(file, exc.line, exc.column, exc.line, exc.column + 1)
        if exc.char in "\"'":
            return error(
                "syntax",
                "unterminated string literal",
                loc,
                'close the string on the same line, or use """triple quotes"""',
            )
        names = _expected_names(set(exc.allowed or ()), in_brackets)
        return error("syntax", f"unexpected character {exc.char!r}", loc, _expected_hint(names))
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(exc, file, text, in_brackets)
    if isinstance(exc, UnexpectedEOF):
        names = _expected_names(set(exc.expected), in_brackets)
        return error(
            "syntax", "unexpected end of file", _end_of_text(file, text), _expected_hint(names)
        )
    return error("syntax", f"cannot parse: {exc}", _end_of_text(file, text))


def _unexpected_token(exc: UnexpectedToken, file: str, text: str, in_brackets: bool) -> Diagnostic:
    tok = exc.token
    names = _expected_names(set(exc.expected), in_brackets)
    hint = _expected_hint(names)
    line_text = _line_text(text, tok.line or 1).lstrip()
    if "':'" in names and (tok.type == "_NEWLINE" or len(names) == 1):
        hint = "expected ':' — block headers (def, if, elif, else, for) end with a colon"
    if line_text.startswith("def ") and "':'" in names and str(tok) in (",", ")"):
        hint = "every parameter needs a type, e.g. def main(category: str, limit: int = 5):"
    if tok.type == "$END":
        return error("syntax", "unexpected end of file", _end_of_text(file, text), hint)
    if tok.type in ("_INDENT", "_DEDENT"):
        line = tok.end_line or tok.line
        what = "unexpected indent" if tok.type == "_INDENT" else "unexpected end of the block"
        return error("syntax", what, Location(file, line, 1, line, 2), hint)
    if tok.type == "_NEWLINE":
        loc = Location(file, tok.line, tok.column, tok.line, tok.column + 1)
        return error("syntax", "unexpected end of line", loc, hint)
    return error("syntax", f"unexpected {str(tok)!r}", _token_loc(file, tok), hint)


def _unsupported_statement(diag: Diagnostic, text: str) -> Diagnostic | None:
    """A clearer message when the failing line starts with a Python keyword we exclude."""
    line = _line_text(text, diag.loc.line)
    stripped = line.lstrip()
    word = stripped.split(" ", 1)[0].split("(", 1)[0].rstrip(":")
    indent = len(line) - len(stripped)
    loc = Location(diag.loc.file, diag.loc.line, indent + 1, diag.loc.line, indent + 1 + len(word))
    if word == "def" and indent > 0:
        return error(
            "unsupported",
            "functions must be defined at the top level",
            loc,
            "move this def out of the function body, then call it",
        )
    if word in UNSUPPORTED_STATEMENTS:
        message, hint = UNSUPPORTED_STATEMENTS[word]
        return error("unsupported", message, loc, hint)
    return None


def _unclosed_bracket(diag: Diagnostic, file: str) -> Diagnostic | None:
    """Point at an opening bracket left open on an earlier line, not at where parsing gave up."""
    if not _INDENTER.open_brackets:
        return None
    opener = _INDENTER.open_brackets[-1]
    if opener.line >= diag.loc.line:
        return None
    closer = {"(": ")", "[": "]", "{": "}"}[str(opener)]
    return error(
        "syntax",
        f"'{opener}' is never closed",
        _token_loc(file, opener),
        f"add the missing '{closer}'",
    )


def _blank_line(text: str, line_no: int) -> str | None:
    """`text` with line `line_no` neutralised, or None when that cannot help."""
    lines = text.split("\n")
    if not 1 <= line_no <= len(lines):
        return None
    line = lines[line_no - 1]
    stripped = line.lstrip()
    if not stripped or stripped.startswith(("pass", "if True:", "def _():")):
        return None
    indent = line[: len(line) - len(stripped)]
    following = next((ln for ln in lines[line_no:] if ln.strip()), "")
    opens_block = len(following) - len(following.lstrip()) > len(indent)
    if indent:
        lines[line_no - 1] = indent + ("if True:" if opens_block else "pass")
    else:  # top level: only definitions and `use` may stand here
        lines[line_no - 1] = "def _():" if opens_block else ""
    return "\n".join(lines)


def parse_tree(text: str, file: str) -> tuple[Tree | None, list[Diagnostic]]:
    """Parse with recovery: the tree (None after any syntax error) and the syntax diagnostics."""
    diagnostics: list[Diagnostic] = []
    attempt = text if text.endswith("\n") else text + "\n"
    for _ in range(MAX_SYNTAX_ERRORS):
        try:
            tree = dsl_parser().parse(attempt)
        except (UnexpectedInput, IndentationProblem) as exc:
            diag = syntax_diagnostic(exc, file, attempt)
            if any(d.loc.line == diag.loc.line for d in diagnostics):
                break
            diagnostics.append(diag)
            if _INDENTER.open_brackets:
                break  # blanking one line cannot close a bracket opened on another
            repaired = _blank_line(attempt, diag.loc.line)
            if repaired is None:
                break
            attempt = repaired
        else:
            return (tree if not diagnostics else None), diagnostics
    return None, diagnostics
