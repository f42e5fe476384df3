"""The agent loop's action format: one JSON object per step, its grammar, its parser.

    {"tool": "open_category", "args": {"name": "Cables"}}    call one of the site's tools
    {"done": <any JSON value>}                                finish; the value is the answer

`action_gbnf(site)` derives a llama.cpp GBNF grammar from the site's tool signatures: the tool
names are enumerated and each name is tied to its own argument object (its parameter names, in
declaration order, with their JSON value types; optional ones may be left out), so a
grammar-constrained reply always parses and names a real tool with well-typed arguments.
`parse_action(text, site)` is the lenient reader for unconstrained replies: the first JSON object
in the text, checked against the tool's signature. Whatever it rejects becomes an `ActionError`
whose message the loop shows the model. Nothing in a reply is ever evaluated: a tool name only
selects an entry of `site.tools`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agentjit.ir import Param
from agentjit.ir.types import ANY, BOOL, FLOAT, INT, NONE, STR, DictType, ListType, RecordType
from agentjit.ir.types import Type as IrType
from agentjit.tools.site import Site, Tool


class ActionError(ValueError):
    """A reply that is not a usable action: no JSON object, an unknown tool, bad arguments."""


@dataclass(frozen=True)
class Action:
    """One parsed step: a tool call (`tool`, `args`) or the end (`done`, `answer`)."""

    tool: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    answer: Any = None

    def to_json(self) -> str:
        """The action in its canonical form (what the history shows as the model's turn)."""
        if self.done:
            return json.dumps({"done": self.answer}, ensure_ascii=False)
        return json.dumps({"tool": self.tool, "args": self.args}, ensure_ascii=False)


FORMAT = """\
Answer with exactly one JSON object and nothing else:
  {"tool": "<tool name>", "args": {"<parameter>": <value>, ...}}  to call one tool, or
  {"done": <answer>}  when the task is finished; <answer> is the JSON value the task asks
  for (a number, a string, a list...), or null when it asks for nothing.
After each call you see its result (or its error) and the page's state."""


# ---- grammar -------------------------------------------------------------------------------

# JSON values, llama.cpp style: every token eats the whitespace after it. Whitespace is at most
# one character per gap, so a model cannot stall the decoder emitting blanks.
JSON_RULES = r"""value ::= object | array | string | number | boolean | null
object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
array ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" char* "\"" ws
char ::= [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" hex hex hex hex )
hex ::= [0-9a-fA-F]
integer ::= "-"? ( "0" | [1-9] [0-9]* ) ws
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )? ws
boolean ::= ( "true" | "false" ) ws
null ::= "null" ws
ws ::= [ \t\n]?"""

JSON_RULES_NAMES = tuple(line.split(" ::= ")[0] for line in JSON_RULES.splitlines())
_SCALAR_RULES = {STR: "string", INT: "integer", FLOAT: "number", BOOL: "boolean", NONE: "null"}


def gbnf_literal(text: str) -> str:
    """A GBNF string literal matching `text` exactly."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _key(name: str) -> str:
    """The literal of a JSON object key `name` (quotes included), then its colon."""
    return f'{gbnf_literal(json.dumps(name, ensure_ascii=False))} ws ":" ws'


class _Rules:
    """The rules of one grammar, with a named rule per composite type (made once)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.by_type: dict[IrType, str] = {}
        self.names: set[str] = set()

    def add(self, base: str, body: str) -> str:
        name = re.sub(r"[^a-zA-Z0-9]+", "-", base).strip("-").lower() or "rule"
        unique, n = name, 2
        while unique in self.names:
            unique, n = f"{name}-{n}", n + 1
        self.names.add(unique)
        self.lines.append(f"{unique} ::= {body}")
        return unique

    def type_rule(self, t: IrType) -> str:
        """The rule matching a JSON value of IR type `t` (`value` for anything else)."""
        if t in _SCALAR_RULES:
            return _SCALAR_RULES[t]
        if t == ANY or not isinstance(t, ListType | DictType | RecordType):
            return "value"
        if t not in self.by_type:
            self.by_type[t] = self._composite(t)
        return self.by_type[t]

    def _composite(self, t: ListType | DictType | RecordType) -> str:
        if isinstance(t, ListType):
            item = self.type_rule(t.elem)
            return self.add(f"list-{item}", f'"[" ws ( {item} ( "," ws {item} )* )? "]" ws')
        if isinstance(t, DictType):
            v = self.type_rule(t.value)
            pair = f'string ":" ws {v}'
            return self.add(f"dict-{v}", f'"{{" ws ( {pair} ( "," ws {pair} )* )? "}}" ws')
        pairs = [f"{_key(n)} {self.type_rule(ft)}" for n, ft in t.fields]
        return self.add(f"record-{t.name}", _object(pairs, []))


def _object(required: list[str], optional: list[str]) -> str:
    """An object with the `required` members in order, then any of the `optional` ones in order."""
    tails = [f'( "," ws {member} )?' for member in optional]
    if required:
        inner = [required[0], *(f'"," ws {m}' for m in required[1:]), *tails]
    elif optional:
        starts = [" ".join([optional[i], *tails[i + 1 :]]) for i in range(len(optional))]
        inner = ["( " + " | ".join(f"( {s} )" for s in starts) + " )?"]
    else:
        inner = []
    return " ".join(['"{" ws', *inner, '"}" ws'])


def _param_member(rules: _Rules, p: Param) -> str:
    return f"{_key(p.name)} {rules.type_rule(p.type)}"


def action_gbnf(site: Site) -> str:
    """The GBNF grammar of one action on `site` (see module doc)."""
    rules = _Rules()
    rules.names.update({"root", "done", "call", *JSON_RULES_NAMES})
    calls = []
    for name, tool in site.tools.items():
        params = tool.signature.params
        required = [_param_member(rules, p) for p in params if p.required]
        optional = [_param_member(rules, p) for p in params if not p.required]
        args = rules.add(f"args-{name}", _object(required, optional))
        tool_name = gbnf_literal(json.dumps(name))
        calls.append(rules.add(f"call-{name}", f'{tool_name} ws "," ws {_key("args")} {args}'))
    head = [
        'root ::= "{" ws ( done | call ) "}"',
        f"done ::= {_key('done')} value",
        f"call ::= {_key('tool')} ( {' | '.join(calls)} )",
    ]
    return "\n".join([*head, *rules.lines, JSON_RULES]) + "\n"


# ---- parsing -------------------------------------------------------------------------------


def first_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text` (prose and code fences around it are ignored)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            found, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(found, dict):
            return found
    raise ActionError("the reply holds no JSON object")


def parse_action(text: str, site: Site) -> Action:
    """The action in a model's reply, checked against `site`'s tools; raises `ActionError`."""
    obj = first_json_object(text)
    name = obj.get("tool", obj.get("name"))
    if "done" in obj and name is None:
        return Action(done=True, answer=obj["done"])
    args = obj.get("args", obj.get("arguments", {}))
    if name == "done" and "done" not in site.tools:
        # Small models often phrase the end as a tool call.
        if isinstance(args, dict) and set(args) <= {"answer"}:
            return Action(done=True, answer=args.get("answer"))
        return Action(done=True, answer=args)
    if not isinstance(name, str):
        raise ActionError('the JSON object has neither "tool" nor "done"')
    tool = site.tools.get(name)
    if tool is None:
        raise ActionError(f"{site.name} has no tool {name!r}; its tools are {sorted(site.tools)}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ActionError(f'"args" of {name} must be a JSON object, got {json.dumps(args)}')
    return Action(tool=name, args=check_args(tool, args))


def check_args(tool: Tool, args: dict[str, Any]) -> dict[str, Any]:
    """`args` checked against the tool's parameters (ints accepted as floats); raises
    `ActionError` naming what is unknown, missing or of the wrong type."""
    sig = tool.signature
    params = {p.name: p for p in sig.params}
    unknown = sorted(set(args) - set(params))
    if unknown:
        raise ActionError(f"{sig.name} has no parameter {', '.join(unknown)}; {_expects(tool)}")
    missing = [p.name for p in sig.params if p.required and p.name not in args]
    if missing:
        raise ActionError(f"{sig.name} needs {', '.join(missing)}; {_expects(tool)}")
    checked = {}
    for name, value in args.items():
        wanted = params[name].type
        if not conforms(value, wanted):
            raise ActionError(f"{sig.name}: {name} must be {wanted}, got {json.dumps(value)}")
        checked[name] = float(value) if wanted == FLOAT else value
    return checked


def _expects(tool: Tool) -> str:
    params = ", ".join(
        f"{p.name}: {p.type}" + ("" if p.required else " (optional)") for p in tool.signature.params
    )
    return f"it takes ({params})"


def conforms(value: Any, t: IrType) -> bool:
    """Whether a JSON value has IR type `t`."""
    if t == ANY:
        return True
    scalars = {STR: str, BOOL: bool, NONE: type(None)}
    if t in scalars:
        return isinstance(value, scalars[t])
    if t in (INT, FLOAT):
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return numeric and (t == FLOAT or isinstance(value, int))
    if isinstance(t, ListType):
        return isinstance(value, list) and all(conforms(v, t.elem) for v in value)
    if isinstance(t, DictType):
        return isinstance(value, dict) and all(conforms(v, t.value) for v in value.values())
    if isinstance(t, RecordType):
        return (
            isinstance(value, dict)
            and set(value) == {n for n, _ in t.fields}
            and all(conforms(value[n], ft) for n, ft in t.fields)
        )
    return False
