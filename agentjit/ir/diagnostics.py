"""Diagnostics and the compiler's exception hierarchy.

Every user-facing error is a `Diagnostic`: a stable machine-readable `code`, a severity, a
`Location`, a message saying what was found, a hint saying what was expected, and notes. It renders
for people (`file:line:col: error[code]: message` plus a caret excerpt) and for programs
(`to_dict`, the form the LLM repair loop consumes). `CompilerError` carries one or more diagnostics;
its subclasses say which stage raised it, so tests and callers can catch precisely.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from agentjit.ir.location import UNKNOWN, Location, caret_excerpt


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Diagnostic:
    """One located message about a program or an IR module."""

    code: str
    """Stable identifier, e.g. `syntax`, `undefined-name`, `type-mismatch`, `verify-dominance`."""
    message: str
    """What is wrong, in one sentence."""
    loc: Location = UNKNOWN
    """Where it is wrong."""
    hint: str = ""
    """What was expected, or how to fix it."""
    severity: Severity = Severity.ERROR
    notes: tuple[str, ...] = field(default=())
    """Further context: the offending IR, the pass that was running, related locations."""

    def render(self, text: str | None = None) -> str:
        """The human form: header line, caret excerpt, hint and notes."""
        where = f"{self.loc}: " if self.loc.known else ""
        parts = [f"{where}{self.severity}[{self.code}]: {self.message}"]
        excerpt = caret_excerpt(self.loc, text)
        if excerpt:
            parts.append(excerpt)
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        parts.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(parts)

    def to_dict(self) -> dict[str, object]:
        """The machine-readable form: code, severity, span, message, hint, notes."""
        return {
            "code": self.code,
            "severity": str(self.severity),
            "span": self.loc.to_dict(),
            "message": self.message,
            "hint": self.hint,
            "notes": list(self.notes),
        }

    def with_note(self, note: str) -> Diagnostic:
        return Diagnostic(
            self.code, self.message, self.loc, self.hint, self.severity, (*self.notes, note)
        )


class CompilerError(Exception):
    """Base of every error agentjit raises about user input; holds at least one diagnostic."""

    def __init__(self, diagnostics: Diagnostic | Sequence[Diagnostic]) -> None:
        diags = [diagnostics] if isinstance(diagnostics, Diagnostic) else list(diagnostics)
        if not diags:
            raise ValueError("a CompilerError needs at least one diagnostic")
        self.diagnostics: list[Diagnostic] = diags
        super().__init__(render_all(diags))

    def to_json(self) -> str:
        return json.dumps([d.to_dict() for d in self.diagnostics], indent=2)


class ParseError(CompilerError):
    """The DSL or the textual IR did not parse, or a program failed its name/type checks."""


class VerifyError(CompilerError):
    """An IR module broke a structural invariant (dominance, terminators, types, tokens)."""


class PassError(CompilerError):
    """A pass rejected its input (a contract violation, an unsupported construct)."""


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    """All diagnostics, rendered one after another, blank-line separated."""
    return "\n\n".join(d.render() for d in diagnostics)


def error(code: str, message: str, loc: Location = UNKNOWN, hint: str = "") -> Diagnostic:
    """Shorthand for an error-severity diagnostic."""
    return Diagnostic(code, message, loc, hint)


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A "did you mean ...?" hint for a misspelt name, or empty when nothing is close."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
