"""A task sentence as a template plus parameters, and programs lifted over those parameters.

    template, params = normalize_task('Buy 2 of "USB cable" for ada@example.com')
    # 'buy {p0} of {p1} for {p2}', ['2', 'USB cable', 'ada@example.com']

Parameters are the parts of a sentence a user changes from one run to the next: quoted text,
numbers, e-mail addresses, and capitalized words after the first (names such as `Cables`). A
program written for one sentence is lifted by marking the literals that spell a parameter's
value; instantiating the lifted program with another sentence's values gives its program. A
parameter the program never spells (it did not matter, or the model rephrased it) is not
lifted, so the cache keys on its exact value instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_PARAM = re.compile(
    r'"(?P<dq>[^"]*)"|\'(?P<sq>[^\']*)\''
    r"|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<num>(?<![\w.])\d+(?:\.\d+)?(?![\w.]))"
    r"|(?<=\s)(?P<name>[A-Z][\w-]*)"
)
_MARK = "\u27e6{}\u27e7"
"""Where a lifted program holds a parameter: characters no DSL literal or name contains."""


@dataclass(frozen=True)
class Param:
    value: str
    is_number: bool


def normalize_task(task: str) -> tuple[str, list[Param]]:
    """The sentence's template (lower case, parameters as {p0}, {p1}, ...) and its parameters."""
    params: list[Param] = []

    def replace(m: re.Match[str]) -> str:
        kind = m.lastgroup or ""
        params.append(Param(m.group(kind), kind == "num"))
        return f"{{p{len(params) - 1}}}"

    text = " ".join(task.strip().split())
    template = _PARAM.sub(replace, text).lower().rstrip(".!? ")
    return template, params


def _literal_patterns(param: Param) -> list[re.Pattern[str]]:
    if param.is_number:
        return [re.compile(rf"(?<![\w.]){re.escape(param.value)}(?![\w.])")]
    quoted = [json.dumps(param.value), "'" + param.value.replace("'", "\\'") + "'"]
    return [re.compile(re.escape(q)) for q in quoted]


def lift(program: str, params: list[Param]) -> tuple[str, list[bool]]:
    """The program with each parameter's literals replaced by a marker; which were lifted.

    Longer values are lifted first, so "USB cable" is not split by a lift of "USB".
    """
    lifted = [False] * len(params)
    order = sorted(range(len(params)), key=lambda i: -len(params[i].value))
    for i in order:
        if not params[i].value:
            continue
        for pattern in _literal_patterns(params[i]):
            program, n = pattern.subn(lambda _m, i=i: _MARK.format(i), program)
            lifted[i] = lifted[i] or n > 0
    return program, lifted


def instantiate(lifted_program: str, params: list[Param]) -> str:
    """The lifted program with the markers replaced by these parameters' literals."""

    def literal(m: re.Match[str]) -> str:
        param = params[int(m.group(1))]
        return param.value if param.is_number else json.dumps(param.value)

    return re.sub("\u27e6(\\d+)\u27e7", literal, lifted_program)
