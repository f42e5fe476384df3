"""Source locations shared by the frontend, the IR and every diagnostic.

A `Location` names a file and a 1-based line/column range. It is a small immutable value so that
every op can carry one for free. Source text is kept in a process-wide `SourceMap` so that a
diagnostic can show a caret excerpt even when it was raised far from the parser (a verifier error
after a pass, say). Locations read back from textual IR find their text the same way, or on disk.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based, inclusive-start and exclusive-end range in a named source."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def known(self) -> bool:
        """False for `UNKNOWN`, the location of ops that came from nowhere in particular."""
        return self.line > 0

    def to_dict(self) -> dict[str, object]:
        """The machine-readable span used in JSON diagnostics."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "end_col": self.end_col,
        }


UNKNOWN = Location("<unknown>", 0, 0, 0, 0)


class SourceMap:
    """Remembers the text of every source the process has compiled, by file name."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def add(self, file: str, text: str) -> None:
        self._texts[file] = text

    def text(self, file: str) -> str | None:
        """The text of `file`: registered text first, then the file on disk, else None."""
        if file in self._texts:
            return self._texts[file]
        path = pathlib.Path(file)
        try:
            if path.is_file():
                return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return None


SOURCES = SourceMap()


def caret_excerpt(loc: Location, text: str | None = None) -> str:
    """The source line of `loc` with `^^^` under the range; empty when the text is unavailable.

    A range that spans several lines is underlined to the end of its first line.
    """
    if not loc.known:
        return ""
    text = text if text is not None else SOURCES.text(loc.file)
    if text is None:
        return ""
    lines = text.splitlines()
    if not 1 <= loc.line <= len(lines):
        return ""
    line = lines[loc.line - 1].expandtabs(1)
    end = loc.end_col if loc.end_line == loc.line and loc.end_col > loc.col else len(line) + 1
    width = max(1, min(end, len(line) + 1) - loc.col)
    gutter = f"{loc.line:>4} | "
    return f"{gutter}{line}\n{' ' * len(gutter)}{' ' * (loc.col - 1)}{'^' * width}"
