"""Running compiled IR on a browser, as dataflow: each op starts when its operands are ready.

Every SSA value is an asyncio future. An op whose operands are all resolved and that leaves
nothing (the pure ops) is computed on the spot; any other op becomes a task that awaits its
operands, runs, and resolves its results. Effects are ordered only by the state tokens the IR
threads through them, so independent chains — the iterations of a parallelized loop, each on its
own tab — run at the same time, while calls on one tab stay in program order. Loop iterations
are bound to the previous iteration's yielded futures, value by value, so iteration k+1 starts as
soon as the tab token it needs is handed on, not when iteration k has finished.

A tool call: (runtime check of `requires` on the observed page) -> the tool on a `SitePage` ->
(check of `ensures`), with a timeout, and retries when the tool is idempotent. The first failure
anywhere cancels the rest of the run (a TaskGroup) and surfaces as a located `RunError`. Under a
`hedge-k` schedule a hedgeable tab's chain runs as k racing copies (`hedge.py`); each copy's tasks
live in a TaskGroup of their own (`GROUP`, a context variable), so cancelling a copy stops all of
its work and nothing else.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agentjit.cost.profile import op_key
from agentjit.ir import ModuleOp, Operation
from agentjit.ir.block import Block
from agentjit.ir.interpreter import Interpreter, evaluate_pure
from agentjit.ir.ops import (
    AssertOp,
    BuiltinCallOp,
    ForOp,
    IfOp,
    LlmCallOp,
    ReturnOp,
    TabCloseOp,
    TabOpenOp,
    ToolCallOp,
    YieldOp,
)
from agentjit.ir.value import Value
from agentjit.runtime.contracts import RunError, check_contract
from agentjit.runtime.hedge import CURRENT, Race, find_chain
from agentjit.runtime.site_page import SiteBinding, SitePage
from agentjit.runtime.tabs import ResourceToken, TabPool, TabToken
from agentjit.runtime.trace import LLM_ROW, Recorder
from agentjit.tools.page import PageError
from agentjit.tools.registry import load_tool

Env = dict[Value, "asyncio.Future[Any]"]
LlmFn = Callable[[str, dict[str, Any], LlmCallOp], Awaitable[tuple[str, int, int]]]

GROUP: contextvars.ContextVar[asyncio.TaskGroup] = contextvars.ContextVar("executor_group")
"""Where the current task starts the tasks of the ops it reaches: the run's TaskGroup, or the
group of the hedge copy it belongs to."""


@dataclass
class RunSettings:
    """How calls are made: checks, timeouts, retries."""

    check_contracts: bool = True
    tool_timeout_s: float = 60.0
    retries: int = 1
    """Extra attempts for an idempotent tool that raised a page error or timed out."""
    hedge: int | None = None
    """Copies of a hedgeable chain; None: what the function's schedule chose (else 1)."""


@dataclass
class Executor:
    """Runs one function of a module on a main tab, a tab pool and site bindings."""

    main: TabToken
    pool: TabPool
    bindings: dict[str, SiteBinding]
    recorder: Recorder
    llm: LlmFn | None = None
    settings: RunSettings = field(default_factory=RunSettings)
    function: str = "main"
    hedge: int = 1
    """Copies per hedgeable chain (1: no hedging); at most the pool's size."""

    async def run(self, module: ModuleOp, function: str, args: dict[str, Any]) -> Any:
        func = module.function(function)
        if func is None:
            raise KeyError(f"no function @{function} in the module")
        self.function = function
        values = {**(func.defaults or {}), **args}
        missing = [n for n in func.arg_names if n not in values]
        if missing:
            raise ValueError(f"@{function} needs arguments: {', '.join(missing)}")
        env: Env = {}
        names = list(func.arg_names)
        for i, arg in enumerate(func.body.block.args):
            value = values[names[i]] if i < len(names) else self._initial_token(str(arg.type))
            env[arg] = _resolved(value)
        try:
            async with asyncio.TaskGroup() as group:
                reset = GROUP.set(group)
                try:
                    outputs = self.run_block(func.body.block, env)
                finally:
                    GROUP.reset(reset)
        except BaseExceptionGroup as group_error:
            raise first_cause(group_error) from None
        await asyncio.sleep(0)  # let forwarded results land
        return outputs[0].result() if outputs else None

    def _initial_token(self, type_name: str) -> Any:
        return self.main if type_name == "!tab" else ResourceToken()

    # ---- blocks and ops ----------------------------------------------------------------------

    def run_block(self, block: Block, env: Env) -> list[asyncio.Future[Any]]:
        """Start every op of `block`; return the futures its terminator passes on."""
        ops = block.ops
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, ReturnOp | YieldOp):
                return [env[v] for v in op.operands]
            found = find_chain(ops, i) if self.hedge > 1 else None
            if found is not None:
                chain, close_at = found
                for other in ops[i : close_at + 1]:
                    if other not in chain.ops:  # independent of the chain: runs as usual
                        self.start_op(other, env)
                outputs = {v: _pending() for v in [chain.opener.source_out, *chain.results]}
                env.update(outputs)
                race = Race(self, chain, min(self.hedge, self.pool.limit), self.start_op)
                GROUP.get().create_task(race.run(env, outputs))
                i = close_at + 1
                continue
            self.start_op(op, env)
            i += 1
        return []

    def start_op(self, op: Operation, env: Env) -> None:
        """Compute a pure op whose operands are ready on the spot; else start a task for it."""
        operands = [env[v] for v in op.operands]
        if all(f.done() for f in operands):
            pure = evaluate_pure(op, [f.result() for f in operands])
            if pure is not None:
                env.update(zip(op.results, map(_resolved, pure), strict=True))
                return
        results = [_pending() for _ in op.results]
        env.update(zip(op.results, results, strict=True))
        GROUP.get().create_task(self._run_op(op, env, results))

    async def _run_op(self, op: Operation, env: Env, results: list[asyncio.Future[Any]]) -> None:
        args = [await env[v] for v in op.operands]
        pure = evaluate_pure(op, args)
        outputs = pure if pure is not None else await self._effect(op, args, env)
        for future, output in zip(results, outputs, strict=True):
            if isinstance(output, asyncio.Future):
                _forward(output, future)
            else:
                future.set_result(output)

    async def _effect(self, op: Operation, args: list[Any], env: Env) -> list[Any]:
        if isinstance(op, ToolCallOp):
            return await self.call_tool(op, args)
        if isinstance(op, ForOp):
            return self.run_for(op, args, env)
        if isinstance(op, IfOp):
            return await self.run_if(op, args, env)
        if isinstance(op, TabOpenOp):
            return [args[0], await self.open_tab(op)]
        if isinstance(op, TabCloseOp):
            self.close_tab(op, args[0])
            return []
        if isinstance(op, AssertOp):
            if not args[0]:
                message = str(args[1]) if len(args) > 1 else ""
                raise RunError.at(op, "assertion", f"assertion failed: {message}")
            return []
        if isinstance(op, LlmCallOp):
            return [await self.call_llm(op, args)]
        if isinstance(op, BuiltinCallOp):
            return await self.call_builtin(op, args, env)
        raise RunError.at(op, "unsupported-op", f"the runtime cannot run {op.name}")

    # ---- control flow ------------------------------------------------------------------------

    def run_for(self, op: ForOp, args: list[Any], env: Env) -> list[Any]:
        block = op.body.block
        carried: list[asyncio.Future[Any]] = [_resolved(a) for a in args[1:]]
        collected: list[asyncio.Future[Any]] = []
        flags: list[asyncio.Future[Any]] = []
        items = list(args[0])
        self.recorder.count("trips", op_key(self.function, op), len(items))
        for item in items:
            inner = {**env, **dict(zip(block.args, [_resolved(item), *carried], strict=True))}
            out = self.run_block(block, inner)
            carried = out[: len(carried)]
            if op.collect:
                collected.append(out[len(carried)])
                if op.filter:
                    flags.append(out[-1])
        if not op.collect:
            return list(carried)
        return [*carried, self._gather_list(collected, flags)]

    def _gather_list(
        self, items: list[asyncio.Future[Any]], flags: list[asyncio.Future[Any]]
    ) -> asyncio.Future[Any]:
        result = _pending()

        async def gather() -> None:
            values = [await f for f in items]
            keep = [await f for f in flags] if flags else [True] * len(values)
            result.set_result([v for v, k in zip(values, keep, strict=True) if k])

        GROUP.get().create_task(gather())
        return result

    async def run_if(self, op: IfOp, args: list[Any], env: Env) -> list[Any]:
        taken = bool(args[0])
        self.recorder.count("branch", op_key(self.function, op), 1.0 if taken else 0.0)
        block = op.regions[0 if taken else 1].block
        inner = {**env, **dict(zip(block.args, map(_resolved, args[1:]), strict=True))}
        return list(self.run_block(block, inner))

    async def call_builtin(self, op: BuiltinCallOp, args: list[Any], env: Env) -> list[Any]:
        values: dict[Value, Any] = {}
        if op.regions:  # a key= lambda: pure, so the reference interpreter runs it
            for v in _captured(op.regions[0].block):
                values[v] = await env[v]
        return Interpreter().call_builtin(op, args, values)

    # ---- tabs --------------------------------------------------------------------------------

    async def open_tab(self, op: TabOpenOp) -> TabToken:
        # Waiting for a free slot is the pool's queueing, which the cost model simulates
        # itself; only getting the page is the latency of tab.open.
        copy = CURRENT.get()
        if copy is not None and not copy.opened:  # a hedge copy: the race took its page
            copy.opened = True
            start = self.recorder.now()
            try:
                token = await asyncio.shield(copy.taking)
            except asyncio.CancelledError:
                self.recorder.add(0, "tab.open", start, {**copy.tags(), "cancelled": True}, False)
                raise
            self.recorder.add(token.number, "tab.open", start, copy.tags(), True)
            return token
        await self.pool.reserve()
        start = self.recorder.now()
        token = await self.pool.take()
        self.recorder.add(token.number, "tab.open", start, {}, True)
        return token

    def close_tab(self, op: TabCloseOp, token: Any) -> None:
        if isinstance(token, TabToken) and token is not self.main:
            copy = CURRENT.get()
            if copy is not None and copy.taking.done() and copy.taking.result() is token:
                copy.closed = True
            self.pool.release(token)

    # ---- calls -------------------------------------------------------------------------------

    async def call_tool(self, op: ToolCallOp, args: list[Any]) -> list[Any]:
        kwargs = dict(zip(op.args, args, strict=False))
        tokens = args[len(op.args) :]
        tab = next((t for t in tokens if isinstance(t, TabToken)), self.main)
        binding, tool = self._lookup(op)
        site = binding.site
        page = SitePage(tab.page, binding)
        copy = CURRENT.get()
        tags = {**kwargs, **(copy.tags() if copy is not None else {})}
        attempts = 1 + (self.settings.retries if tool.signature.effects.idempotent else 0)
        for attempt in range(attempts):
            start = self.recorder.now()
            try:
                output = await self._attempt(op, site, tool, page, kwargs)
            except RunError:
                raise
            except asyncio.CancelledError:  # another copy won: no complete latency to learn
                self.recorder.add(tab.number, op.tool, start, {**tags, "cancelled": True}, False)
                raise
            except Exception as e:
                self.recorder.add(tab.number, op.tool, start, {**tags, "error": str(e)}, False)
                if attempt + 1 < attempts and isinstance(e, PageError | TimeoutError):
                    continue
                message = f"{op.tool}() failed: {type(e).__name__}: {e}"
                raise RunError.at(op, "tool-failed", message, hint=_page_hint(e)) from e
            self.recorder.add(tab.number, op.tool, start, tags, True)
            if isinstance(output, list):
                self.recorder.count("length", op.tool, len(output))
            return [output, *tokens]
        raise AssertionError("unreachable")

    def _lookup(self, op: ToolCallOp) -> tuple[SiteBinding, Any]:
        """The binding of the tool's site (bound for this run, else installed) and the tool."""
        site_name, _, tool_name = op.tool.rpartition(".")
        binding = self.bindings.get(site_name)
        if binding is None:
            found = load_tool(op.tool)
            if found is None:
                raise RunError.at(op, "unknown-tool", f"no site provides the tool {op.tool}")
            binding = self.bindings[site_name] = SiteBinding.of(found[0])
        tool = binding.site.tools.get(tool_name)
        if tool is None:
            raise RunError.at(op, "unknown-tool", f"site {site_name} has no tool {tool_name}")
        return binding, tool

    async def _attempt(self, op: ToolCallOp, site: Any, tool: Any, page: SitePage, kwargs: dict):
        check = self.settings.check_contracts
        if check:
            await check_contract(site, tool, page, op, kwargs, phase="requires")
        output = await asyncio.wait_for(tool.fn(page, **kwargs), self.settings.tool_timeout_s)
        if tool.signature.effects.navigates:
            await page.check_origin(op.tool)
        if check:
            await check_contract(site, tool, page, op, kwargs, phase="ensures", output=output)
        return output

    async def call_llm(self, op: LlmCallOp, args: list[Any]) -> str:
        if self.llm is None:
            raise RunError.at(
                op,
                "llm-unavailable",
                "the program calls llm(...) but no LLM endpoint is configured",
                hint="set OPENAI_BASE_URL (and OPENAI_API_KEY) to an OpenAI-compatible server",
            )
        start = self.recorder.now()
        try:
            values = dict(zip(op.args, args, strict=True))
            text, prompt, output = await self.llm(op.template, values, op)
        except Exception as e:
            self.recorder.add(LLM_ROW, f"llm.{op.model}", start, {"error": str(e)}, False)
            raise RunError.at(op, "llm-failed", f"the llm(...) call failed: {e}") from e
        tokens = {"prompt_tokens": prompt, "output_tokens": output}
        self.recorder.add(LLM_ROW, f"llm.{op.model}", start, tokens, True)
        return text


def first_cause(group: BaseExceptionGroup) -> BaseException:
    """The error that stopped the run: a RunError if any, else the first failure."""
    flat: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        e = stack.pop(0)
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        else:
            flat.append(e)
    return next((e for e in flat if isinstance(e, RunError)), flat[0])


def _page_hint(e: BaseException) -> str:
    if isinstance(e, PageError) and e.selector:
        return f"the page at {e.url} has nothing matching {e.selector!r}"
    return ""


def _captured(block: Block) -> set[Value]:
    """Values a region uses that are defined outside it."""
    inside: set[Value] = set(block.args)
    used: set[Value] = set()
    for op in block.ops:
        inside.update(op.results)
        used.update(op.operands)
        for region in op.regions:
            used |= _captured(region.block)
    return used - inside


def _pending() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


def _resolved(value: Any) -> asyncio.Future[Any]:
    if isinstance(value, asyncio.Future):
        return value
    future = _pending()
    future.set_result(value)
    return future


def _forward(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    def copy(done: asyncio.Future[Any]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif done.exception() is not None:
            target.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


__all__ = ["Executor", "RunSettings"]
