"""The agent-loop baseline: observe -> one LLM call picks the next tool call -> run it -> repeat.

    report = await run_loop("Put the cheapest in-stock cable in the basket", load_site("shop"),
                            OpenAiClient(Endpoint.resolve()), backend="cdp", max_steps=20)
    report.answer, report.steps, report.llm_calls, report.seconds

This is the classic one-LLM-call-per-action agent (Browser-Use style, with the site's tools as
its actions, like the paper's "Browser-Use + cache") on the same tools, model and browser as the
compiled plans, so both can be timed on the same tasks. Each step the model sees the task, the
tools with their contracts, its previous actions with their (truncated) results, and the page's
abstract state (the site's `observe`) and URL; it answers with one JSON action (`actions.py`),
grammar-constrained where the endpoint allows. Whatever goes wrong in a step — an unparsable
reply, an unknown tool, bad arguments, a contract the page breaks, a tool error or timeout — is
shown to the model as that step's result, and the loop goes on until the model says it is done
or the step limit. Page text is only ever data in the prompt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentjit.agent.actions import FORMAT, Action, ActionError, action_gbnf, parse_action
from agentjit.backends.base import launch_backend
from agentjit.planner.endpoint import (
    Completion,
    Endpoint,
    EndpointError,
    LlmClient,
    Message,
    OpenAiClient,
)
from agentjit.planner.prompt import tools_text
from agentjit.runtime.contracts import violations
from agentjit.runtime.site_page import SiteBinding, SitePage
from agentjit.runtime.trace import LLM_ROW, Recorder
from agentjit.tools.registry import load_site
from agentjit.tools.site import Site, Tool

INVALID = "invalid"
"""`Step.action` of a reply that was not a usable action."""


@dataclass
class Step:
    """One LLM call and what came of it."""

    action: str
    """The tool called, "done", or "invalid" (the reply was not a usable action)."""
    args: dict[str, Any]
    observation_text: str
    """What the model is shown as the step's result: the output as JSON, or the error."""
    llm_latency_s: float
    tool_latency_s: float = 0.0
    """The tool call and the observation of the page after it."""
    error: str | None = None
    reply: str = ""
    """The model's reply as sent."""
    output: Any = None
    """The tool's output (records as dicts)."""
    page_text: str = ""
    """The page's URL and abstract state after the step."""


@dataclass
class LoopReport:
    """How a loop ended and what it cost."""

    answer: Any
    steps: list[Step]
    llm_calls: int
    prompt_tokens: int
    output_tokens: int
    seconds: float
    """Wall clock of the loop, from the first observation (browser start not included, as in
    `run_module`'s measured time)."""
    done: bool
    reason: str
    """"done", "step limit", "timeout", or what failed (an endpoint error)."""

    @property
    def llm_seconds(self) -> float:
        return sum(s.llm_latency_s for s in self.steps)

    @property
    def tool_seconds(self) -> float:
        return sum(s.tool_latency_s for s in self.steps)

    def summary(self) -> str:
        ended = "done" if self.done else f"stopped ({self.reason})"
        errors = sum(1 for s in self.steps if s.error)
        return (
            f"answer: {json.dumps(self.answer, ensure_ascii=False, default=str)}\n"
            f"{ended} after {len(self.steps)} steps ({errors} with errors), "
            f"{self.llm_calls} LLM calls ({self.prompt_tokens} prompt + "
            f"{self.output_tokens} output tokens), {self.seconds:.2f} s: "
            f"{self.llm_seconds:.2f} s LLM, {self.tool_seconds:.2f} s tools"
        )


@dataclass(frozen=True)
class PromptSettings:
    """How much history the model sees and how it is asked."""

    window: int = 8
    """The last steps shown in full; older ones shrink to one line each."""
    older_lines: int = 16
    """At most this many one-line summaries of older steps."""
    result_chars: int = 600
    """Results in the history are cut to this many characters..."""
    latest_chars: int = 4000
    """...except the latest one, which the model is about to act on."""
    max_chars: int = 8000
    """The window shrinks (to one step at least) until the prompt fits: about 3.5k tokens of
    JSON-heavy text, inside the local server's 4096-token context with room for the answer."""
    max_tokens: int = 256
    temperature: float = 0.0


# ---- the prompt ----------------------------------------------------------------------------

SYSTEM = """\
You are a web agent. You do a task on the site `{site}` by calling its tools, one call per step;
each call runs in a real browser.
Task: {task}

{tools}

{format}"""


def system_prompt(task: str, site: Site) -> str:
    # The planner's listing, less what only the DSL has: builtins, reading fields with `.`.
    listing = tools_text(site).replace("(read fields with .name)", "(results are JSON objects)")
    tools = "\n".join(line for line in listing.splitlines() if not line.startswith("Builtins:"))
    return SYSTEM.format(site=site.name, task=task, tools=tools, format=FORMAT)


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more characters)"


def _said(step: Step) -> str:
    """The model's turn as the history shows it: the canonical action, or the unusable reply."""
    if step.action == INVALID:
        return clip(step.reply, 300) or "(an empty reply)"
    if step.action == "done":
        return json.dumps({"done": step.output}, ensure_ascii=False, default=str)
    return Action(step.action, step.args).to_json()


def _one_line(number: int, step: Step) -> str:
    outcome = f"error: {clip(step.error, 120)}" if step.error else "ok"
    return f"{number}. {_said(step)} -> {outcome}"


def build_messages(
    task: str, site: Site, start_page: str, steps: list[Step], settings: PromptSettings
) -> list[Message]:
    """The chat for the next step: system (task, tools, format), then the history, then now.

    Each earlier step is an assistant turn (its action) and a user turn (its result and the
    page after it). Steps before the last `window` are one line each, and the window shrinks
    while the prompt is over `max_chars`, so the prompt is bounded whatever the number of
    steps; a prefix-caching server reuses everything before the latest turns.
    """
    for window in range(max(settings.window, 1), 0, -1):
        messages = _messages(task, site, start_page, steps, settings, window)
        if sum(len(m["content"]) for m in messages) <= settings.max_chars:
            break
    return messages


def _messages(
    task: str, site: Site, start_page: str, steps: list[Step], settings: PromptSettings, window: int
) -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": system_prompt(task, site)}]
    shown = steps[-window:]
    older = steps[: len(steps) - len(shown)]
    opening = f"Task: {task}\n"
    if older:
        lines = [_one_line(i + 1, s) for i, s in enumerate(older)][-settings.older_lines :]
        if len(older) > len(lines):
            lines.insert(0, f"({len(older) - len(lines)} earlier steps not shown)")
        last = older[-1]
        opening += "Earlier steps:\n" + "\n".join(lines) + "\n"
        opening += f"Result: {clip(last.observation_text, settings.result_chars)}\n"
        opening += last.page_text or start_page
    else:
        opening += start_page
    messages.append({"role": "user", "content": opening})
    for i, step in enumerate(shown):
        limit = settings.latest_chars if i == len(shown) - 1 else settings.result_chars
        result = f"Result: {clip(step.observation_text, limit)}\n{step.page_text}"
        messages += [
            {"role": "assistant", "content": _said(step)},
            {"role": "user", "content": result},
        ]
    messages[-1]["content"] += "\nYour next action (one JSON object):"
    return messages


# ---- values --------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A tool output as JSON-able data: records (dataclasses) become dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def to_text(value: Any) -> str:
    if value is None:
        return "ok (no value)"
    return json.dumps(value, ensure_ascii=False, default=str)


def scalars(value: Any) -> set[Any]:
    """Every string and number inside a JSON-able value (for `requires_called`)."""
    if isinstance(value, dict):
        return set().union(*(scalars(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(scalars(v) for v in value))
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {value}
    return set()


# ---- the loop ------------------------------------------------------------------------------


@dataclass
class AgentLoop:
    """The loop on one page of one site (the browser is the caller's)."""

    task: str
    site: Site
    page: SitePage
    client: LlmClient
    max_steps: int = 20
    step_timeout_s: float = 60.0
    grammar: bool = True
    prompt: PromptSettings = field(default_factory=PromptSettings)
    recorder: Recorder = field(default_factory=Recorder)
    on_step: Callable[[Step], None] | None = None
    steps: list[Step] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0
    _state: dict[str, Any] | None = None
    _page_text: str = ""
    _seen: dict[str, set[Any]] = field(default_factory=dict)
    """Values each tool has returned: what `requires_called` arguments may be."""

    async def run(self) -> tuple[bool, Any, str]:
        """Steps until done or the step limit: (done, answer, reason)."""
        gbnf = action_gbnf(self.site) if self.grammar else None
        self._state, self._page_text = await self.observe()
        start_page = self._page_text
        while len(self.steps) < self.max_steps:
            messages = build_messages(self.task, self.site, start_page, self.steps, self.prompt)
            try:
                reply = await self.ask(messages, gbnf)
            except EndpointError as e:
                return False, None, f"endpoint error: {e}"
            step = await self.act(reply)
            self.steps.append(step)
            if self.on_step is not None:
                self.on_step(step)
            if step.action == "done":
                return True, step.output, "done"
        return False, None, "step limit"

    async def ask(self, messages: list[Message], gbnf: str | None) -> Completion:
        start = self.recorder.now()
        reply = await self.client.complete(
            messages,
            grammar=gbnf,
            max_tokens=self.prompt.max_tokens,
            temperature=self.prompt.temperature,
        )
        self.llm_calls += 1
        self.prompt_tokens += reply.prompt_tokens
        self.output_tokens += reply.output_tokens
        tokens = {"prompt_tokens": reply.prompt_tokens, "output_tokens": reply.output_tokens}
        self.recorder.add(LLM_ROW, "llm.agent_step", start, tokens, True)
        return reply

    async def act(self, completion: Completion) -> Step:
        """Parse the reply and carry it out; every failure becomes the step's result."""
        reply, llm_s = completion.text, completion.latency_s
        try:
            action = parse_action(reply, self.site)
        except ActionError as e:
            cut = f" (cut off at {self.prompt.max_tokens} tokens: answer shorter)"
            why = f"unusable reply: {e}" + (cut if completion.finish_reason == "length" else "")
            return self._refused(INVALID, {}, reply, llm_s, why)
        if action.done:
            return Step("done", {}, "", llm_s, 0.0, None, reply, action.answer, self._page_text)
        tool = self.site.tools[action.tool]
        refusal = self.refusal(tool, action.args)
        if refusal:
            return self._refused(action.tool, action.args, reply, llm_s, refusal)
        return await self.call(tool, action, reply, llm_s)

    def _refused(
        self, name: str, args: dict[str, Any], reply: str, llm_s: float, error: str
    ) -> Step:
        text = f"Error: {error}. Nothing was done."
        return Step(name, args, text, llm_s, 0.0, error, reply, page_text=self._page_text)

    def refusal(self, tool: Tool, args: dict[str, Any]) -> str:
        """Why the tool may not run now (its contract, on the page last observed), or ""."""
        name = tool.signature.name
        broken = violations(tool, self._state or {}, args, phase="requires")
        if broken:
            field_name, expected, value = broken[0]
            return (
                f"{name} needs {field_name} {expected}, but the page shows {field_name} = {value!r}"
            )
        for arg, sources in tool.contract.requires_called.items():
            known = set().union(*(self._seen.get(s, set()) for s in sources))
            value = args.get(arg)
            if arg in args and not (isinstance(value, str | int | float) and value in known):
                from_ = " or ".join(f"{s}()" for s in sources)
                return f"{name}: {arg} must be a value returned by {from_}; {args[arg]!r} is not"
        return ""

    async def call(self, tool: Tool, action: Action, reply: str, llm_s: float) -> Step:
        name = f"{self.site.name}.{action.tool}"
        start = time.perf_counter()
        recorded = self.recorder.now()
        output, error = None, None
        try:
            raw = await asyncio.wait_for(tool.fn(self.page, **action.args), self.step_timeout_s)
            output = jsonable(raw)
            if tool.signature.effects.navigates:
                await asyncio.wait_for(self.page.check_origin(name), self.step_timeout_s)
        except TimeoutError:
            error = f"{action.tool} did not finish within {self.step_timeout_s:g} s"
        except Exception as e:  # a tool's failure is the model's to see, not the loop's end
            error = f"{type(e).__name__}: {e}"
        self._state, self._page_text = await self.observe()
        if error is None:
            error = self._broken_promise(tool, action.args, output)
        self.recorder.add(0, name, recorded, {**action.args, "error": error or ""}, not error)
        if error is None:
            self._seen.setdefault(action.tool, set()).update(scalars(output))
        text = to_text(output) if error is None else f"Error: {error}"
        elapsed = time.perf_counter() - start
        return Step(
            action.tool, action.args, text, llm_s, elapsed, error, reply, output, self._page_text
        )

    def _broken_promise(self, tool: Tool, args: dict[str, Any], output: Any) -> str | None:
        broken = violations(tool, self._state or {}, args, phase="ensures", output=output)
        if not broken:
            return None
        field_name, expected, value = broken[0]
        name = tool.signature.name
        shows = f"the page shows {field_name} = {value!r}"
        return f"after {name}, {shows}, but {name} promises {field_name} {expected}"

    async def observe(self) -> tuple[dict[str, Any] | None, str]:
        """The page's abstract state (None if unreadable) and its text for the prompt."""
        try:
            url = await asyncio.wait_for(self.page.url(), self.step_timeout_s)
        except Exception as e:
            return None, f"Page: unknown ({type(e).__name__}: {e})"
        if self.site.observer is None:
            return None, f"Page: {url}"
        start = self.recorder.now()
        try:
            state = await asyncio.wait_for(self.site.observer(self.page), self.step_timeout_s)
        except Exception as e:
            self.recorder.add(0, f"{self.site.name}.observe", start, {"error": str(e)}, False)
            return None, f"Page: {url}\nState: unreadable ({type(e).__name__}: {e})"
        self.recorder.add(0, f"{self.site.name}.observe", start, {}, True)
        return state, f"Page: {url}\nState: {json.dumps(state, default=str)}"


# ---- entry points --------------------------------------------------------------------------


async def run_loop(
    task: str,
    site: Site,
    client: LlmClient,
    *,
    backend: str = "cdp",
    base_url: str | None = None,
    max_steps: int = 20,
    step_timeout_s: float = 60.0,
    grammar: bool = True,
    trace: Path | str | None = None,
    timeout_s: float = 600.0,
    prompt: PromptSettings | None = None,
    backend_options: dict[str, Any] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> LoopReport:
    """Run the loop on a fresh browser (one tab), the site bound to `base_url` and fenced to
    its origins. The browser and its processes are stopped when the loop ends, however it ends.
    """
    binding = SiteBinding.of(site, base_url)
    recorder = Recorder(run_id=uuid.uuid4().hex[:12])
    async with launch_backend(backend, **(backend_options or {})) as browser:
        context = await browser.new_context()
        page = SitePage(await context.new_page(), binding)
        loop = AgentLoop(
            task,
            site,
            page,
            client,
            max_steps,
            step_timeout_s,
            grammar,
            prompt or PromptSettings(),
            recorder,
            on_step,
        )
        started = time.perf_counter()
        recorder.started = started
        try:
            done, answer, reason = await _run_within(loop, timeout_s)
        finally:
            seconds = time.perf_counter() - started
            if trace:
                recorder.write_chrome_trace(trace)
    return LoopReport(
        answer,
        loop.steps,
        loop.llm_calls,
        loop.prompt_tokens,
        loop.output_tokens,
        seconds,
        done,
        reason,
    )


async def _run_within(loop: AgentLoop, timeout_s: float) -> tuple[bool, Any, str]:
    """`loop.run()`'s (done, answer, reason), or not done with a timeout reason."""
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline:
            return await loop.run()
    except TimeoutError:
        if not deadline.expired():
            raise
        return False, None, f"timeout after {timeout_s:g} s"


def _print_step(step: Step) -> None:
    what = step.error or clip(step.observation_text, 100)
    took = f"{step.llm_latency_s:.1f} s LLM, {step.tool_latency_s:.1f} s tool"
    print(f"  {step.action} {json.dumps(step.args)}: {what} ({took})", file=sys.stderr)


def run_loop_cli(
    task: str,
    site_name: str,
    base_url: str | None = None,
    backend: str = "cdp",
    endpoint: Endpoint | None = None,
    max_steps: int = 20,
    trace: Path | str | None = None,
    timeout_s: float = 600.0,
    verbose: bool = True,
) -> int:
    """`agentjit run TASK --site NAME --mode loop`: run, print the summary; 0 when the model
    said it was done, 1 when it was stopped, 2 when it could not start."""
    site = load_site(site_name)
    if site is None:
        print(f"agentjit run: no site called {site_name!r} is installed", file=sys.stderr)
        return 2
    try:
        client = OpenAiClient(endpoint or Endpoint.resolve())
    except EndpointError as e:
        print(f"agentjit run: {e}", file=sys.stderr)
        return 2
    report = asyncio.run(
        run_loop(
            task,
            site,
            client,
            backend=backend,
            base_url=base_url,
            max_steps=max_steps,
            trace=trace,
            timeout_s=timeout_s,
            on_step=_print_step if verbose else None,
        )
    )
    print(report.summary())
    if trace:
        print(f"trace: {trace} (open in Perfetto)", file=sys.stderr)
    return 0 if report.done else 1
