"""A reference interpreter: the meaning of the IR, used to check that passes keep behaviour.

`Interpreter(tool_handler, llm_handler).run(module, "main", {"category": "Cables"})` evaluates the
function and returns its result. Pure ops use the same Python semantics as constant folding
(`BinaryOp.evaluate`, the builtins' `impl`). What leaves the process is delegated: each
`tool.call` goes to `tool_handler(qualified_name, kwargs, tab)` and each `llm.call` to
`llm_handler(template, values, op)`. Tokens are opaque except for the tab they belong to: the
function's own tab is 0 and every `tab.open` executed opens the next number, so a handler can
keep one page state per tab. Iterations of a parallel `ctl.for` run one after another here: the
interpreter gives the meaning, the runtime the speed. `trace` records every tool call in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from agentjit.ir.block import Block
from agentjit.ir.builtins import BUILTINS, fill_template
from agentjit.ir.operation import Operation
from agentjit.ir.ops import (
    AssertOp,
    BinaryOp,
    BuiltinCallOp,
    CastOp,
    ConstantOp,
    DictOp,
    ForOp,
    GetAttrOp,
    GetItemOp,
    IfOp,
    ListOp,
    LlmCallOp,
    ModuleOp,
    ReturnOp,
    TabCloseOp,
    TabOpenOp,
    ToolCallOp,
    UnaryOp,
    UndefOp,
    YieldOp,
)
from agentjit.ir.value import Value

ToolHandler = Callable[[str, dict[str, Any], int], Any]
LlmHandler = Callable[[str, dict[str, Any], LlmCallOp], str]


class AssertionFailed(Exception):
    """A `dsl.assert` failed while interpreting; carries the message and the op's location."""

    def __init__(self, message: str, op: Operation) -> None:
        super().__init__(f"{op.loc}: assertion failed: {message}")
        self.op = op


class Token:
    """The run-time stand-in for a state token: its channel and, for tabs, the tab number."""

    __slots__ = ("channel", "tab")

    def __init__(self, channel: str, tab: int = 0) -> None:
        self.channel = channel
        self.tab = tab


def get_field(obj: Any, name: str) -> Any:
    """`obj.name` for records given as dataclasses, objects or dicts."""
    if isinstance(obj, dict):
        return obj[name]
    return getattr(obj, name)


def no_tools(name: str, kwargs: dict[str, Any], tab: int) -> Any:
    raise RuntimeError(f"tool {name} called, but the interpreter was given no tool handler")


def echo_llm(template: str, values: dict[str, Any], op: LlmCallOp) -> str:
    """A deterministic stand-in for a model (for tests): the filled-in template."""
    return fill_template(template, values)


@dataclass
class Interpreter:
    tool_handler: ToolHandler = no_tools
    llm_handler: LlmHandler = echo_llm
    trace: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Every tool call, in execution order, with its arguments."""
    tabs_opened: int = 0
    """How many `tab.open` ops have run (the last tab number handed out)."""

    def run(self, module: ModuleOp, function: str = "main", args: dict[str, Any] | None = None):
        func = module.function(function)
        if func is None:
            raise KeyError(f"no function @{function}")
        env: dict[Value, Any] = {}
        params = list(func.arg_names)
        values = {**(func.defaults or {}), **(args or {})}
        for i, arg in enumerate(func.body.block.args):
            env[arg] = values[params[i]] if i < len(params) else Token(str(arg.type), 0)
        return self.run_block(func.body.block, env)[0]

    def run_block(self, block: Block, env: dict[Value, Any]) -> list[Any]:
        """Execute `block`; return the values its terminator passes on."""
        for op in block.ops:
            if isinstance(op, ReturnOp | YieldOp):
                return [env[v] for v in op.operands]
            results = self.execute(op, env)
            env.update(zip(op.results, results, strict=True))
        return []

    def execute(self, op: Operation, env: dict[Value, Any]) -> list[Any]:
        """Run one non-terminator op; return its results."""
        args = [env[v] for v in op.operands]
        pure = _PURE.get(type(op)) or (_operator if isinstance(op, BinaryOp | UnaryOp) else None)
        if pure is not None:
            return [pure(op, args)]
        handler = self._EFFECTFUL.get(type(op))
        if handler is None:
            raise NotImplementedError(f"the interpreter cannot run {op.name}")
        return handler(self, op, args, env)

    def run_assert(self, op: AssertOp, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        if not args[0]:
            raise AssertionFailed(str(args[1]) if len(args) > 1 else "", op)
        return []

    def run_if(self, op: IfOp, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        block = op.regions[0 if args[0] else 1].block
        return self.run_block(block, {**env, **dict(zip(block.args, args[1:], strict=True))})

    def run_llm(self, op: LlmCallOp, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        return [self.llm_handler(op.template, dict(zip(op.args, args, strict=True)), op)]

    def call_builtin(self, op: BuiltinCallOp, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        n_pos = len(args) - len(op.kwargs)
        kwargs = dict(zip(op.kwargs, args[n_pos:], strict=True))
        if op.regions:
            block = op.regions[0].block
            kwargs["key"] = lambda item: self.run_block(block, {**env, block.args[0]: item})[0]
        return [BUILTINS[op.callee].impl(*args[:n_pos], **kwargs)]

    def run_for(self, op: ForOp, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        block = op.body.block
        carried = args[1:]
        collected: list[Any] = []
        for item in args[0]:
            bound = dict(zip(block.args, [item, *carried], strict=True))
            out = self.run_block(block, {**env, **bound})
            carried = out[: len(carried)]
            if op.collect and (not op.filter or out[-1]):
                collected.append(out[len(carried)])
        return [*carried, collected] if op.collect else carried

    def call_tool(self, op: ToolCallOp, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        kwargs = dict(zip(op.args, args, strict=False))
        tokens = args[len(op.args) :]
        tab = next((t.tab for t in tokens if t.channel == "!tab"), 0)
        self.trace.append((op.tool, kwargs))
        output = self.tool_handler(op.tool, kwargs, tab)
        return [output, *(Token(t.channel, t.tab) for t in tokens)]

    def open_tab(self, op: TabOpenOp, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        self.tabs_opened += 1
        return [args[0], Token("!tab", self.tabs_opened)]

    def close_tab(self, op: TabCloseOp, args: list[Any], env: dict[Value, Any]) -> list[Any]:
        return []

    _EFFECTFUL: ClassVar[dict[type, Callable[..., list[Any]]]] = {
        BuiltinCallOp: call_builtin,
        AssertOp: run_assert,
        IfOp: run_if,
        ForOp: run_for,
        ToolCallOp: call_tool,
        LlmCallOp: run_llm,
        TabOpenOp: open_tab,
        TabCloseOp: close_tab,
    }
    """Ops that run regions or leave the process, by class."""


def evaluate_pure(op: Operation, args: list[Any]) -> list[Any] | None:
    """The results of a region-free pure op on operand values, or None for any other op."""
    pure = _PURE.get(type(op)) or (_operator if isinstance(op, BinaryOp | UnaryOp) else None)
    return None if pure is None else [pure(op, args)]


def _operator(op: Operation, args: list[Any]) -> Any:
    return type(op).evaluate(*args)


_PURE: dict[type, Callable[[Any, list[Any]], Any]] = {
    ConstantOp: lambda op, args: op.value,
    UndefOp: lambda op, args: None,
    CastOp: lambda op, args: args[0],
    ListOp: lambda op, args: list(args),
    DictOp: lambda op, args: dict(zip(op.keys, args, strict=True)),
    GetAttrOp: lambda op, args: get_field(args[0], op.field),
    GetItemOp: lambda op, args: args[0][args[1]],
}
"""Region-free pure ops: (op, operand values) -> result."""


__all__ = [
    "AssertionFailed",
    "Interpreter",
    "Token",
    "echo_llm",
    "evaluate_pure",
    "get_field",
    "no_tools",
]
