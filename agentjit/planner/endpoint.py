"""Talking to a language model: any OpenAI-compatible chat endpoint, streamed, with deadlines.

    endpoint = Endpoint.resolve(base_url=None, model=None)   # flags, else env, else local server
    client = OpenAiClient(endpoint)
    reply = await client.complete(messages, grammar=gbnf, max_tokens=400, seed=3)

`LlmClient` is the one method the planner and the agent loop need, so tests can pass a scripted
client instead of a server. Every request streams, and waits on the first token and on each
further chunk are bounded: a dead or stalled endpoint is an `EndpointError` within the timeout,
never a hang. A grammar (GBNF) is sent only where the endpoint is known to accept one
(llama.cpp's server takes it as `extra_body={"grammar": ...}`; OpenAI would reject it).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

LOCAL_API_KEY = "sk-local"


class EndpointError(RuntimeError):
    """The model endpoint is not configured, not reachable, too slow, or refused a request."""


@dataclass(frozen=True)
class Endpoint:
    """Where the model is and how to talk to it."""

    base_url: str
    model: str
    api_key: str = LOCAL_API_KEY
    grammar: bool = False
    """Whether the server accepts a GBNF grammar (llama.cpp does)."""
    first_token_s: float = 120.0
    """Longest wait for the first streamed chunk: prompt processing on a small CPU is slow."""
    chunk_s: float = 30.0
    """Longest wait between two chunks once the answer is streaming."""
    concurrency: int = 8
    """Requests in flight at once. A server that runs one at a time (llama.cpp's) gets 1, so
    the first-token wait never includes other requests' queueing."""

    @classmethod
    def resolve(
        cls,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        grammar: bool | None = None,
    ) -> Endpoint:
        """Flags first, then `OPENAI_BASE_URL` / `OPENAI_API_KEY` / `AGENTJIT_LLM_MODEL`, then
        the server `agentjit llm serve` started; otherwise an `EndpointError` saying what to do.
        """
        env = os.environ
        url = base_url or env.get("OPENAI_BASE_URL", "")
        name = model or env.get("AGENTJIT_LLM_MODEL", "")
        key = api_key or env.get("OPENAI_API_KEY", "") or LOCAL_API_KEY
        if not url:
            local = _local_endpoint()
            if local is None:
                raise EndpointError(
                    "no LLM endpoint: set OPENAI_BASE_URL (and OPENAI_API_KEY, "
                    "AGENTJIT_LLM_MODEL), pass --base-url, or start the local one with "
                    "`agentjit llm serve`"
                )
            url, local_model = local
            uses_grammar = grammar if grammar is not None else True
            return cls(url, name or local_model, key, uses_grammar, concurrency=1)
        uses_grammar = grammar if grammar is not None else env.get("AGENTJIT_LLM_GRAMMAR") == "1"
        concurrency = int(env.get("AGENTJIT_LLM_CONCURRENCY", "8"))
        return cls(url, name or "default", key, uses_grammar, concurrency=concurrency)


def _local_endpoint() -> tuple[str, str] | None:
    from agentjit.localllm.endpoint import ensure_local_endpoint

    found = ensure_local_endpoint()
    return (found.base_url, found.model) if found else None


@dataclass(frozen=True)
class Completion:
    """One answer and what it cost."""

    text: str
    prompt_tokens: int
    output_tokens: int
    latency_s: float
    finish_reason: str = ""


Message = dict[str, str]


class LlmClient(Protocol):
    """What the planner and the agent loop ask of a model."""

    async def complete(
        self,
        messages: list[Message],
        *,
        grammar: str | None = None,
        max_tokens: int = 512,
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> Completion: ...


@dataclass
class OpenAiClient:
    """`LlmClient` over the `openai` package, streaming, with bounded waits."""

    endpoint: Endpoint
    calls: int = field(default=0, init=False)
    _slots: asyncio.Semaphore | None = field(default=None, init=False, repr=False)

    async def complete(
        self,
        messages: list[Message],
        *,
        grammar: str | None = None,
        max_tokens: int = 512,
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> Completion:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.endpoint.concurrency)
        async with self._slots:
            return await self._complete(messages, grammar, max_tokens, temperature, seed)

    async def _complete(
        self,
        messages: list[Message],
        grammar: str | None,
        max_tokens: int,
        temperature: float,
        seed: int | None,
    ) -> Completion:
        from openai import AsyncOpenAI, OpenAIError

        self.calls += 1
        started = time.perf_counter()
        client = AsyncOpenAI(
            base_url=self.endpoint.base_url,
            api_key=self.endpoint.api_key,
            timeout=self.endpoint.first_token_s,
            max_retries=0,
        )
        try:
            stream = await client.chat.completions.create(
                **self._request(messages, grammar, max_tokens, temperature, seed)
            )
            parts, usage, finish = await self._drain(stream)
        except OpenAIError as exc:
            raise EndpointError(f"the LLM endpoint {self.endpoint.base_url} failed: {exc}") from exc
        finally:
            await client.close()
        prompt_tokens, output_tokens = usage
        return Completion(
            "".join(parts), prompt_tokens, output_tokens, time.perf_counter() - started, finish
        )

    def _request(
        self,
        messages: list[Message],
        grammar: str | None,
        max_tokens: int,
        temperature: float,
        seed: int | None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if seed is not None:
            request["seed"] = seed
        if grammar and self.endpoint.grammar:
            request["extra_body"] = {"grammar": grammar}
        return request

    async def _drain(self, stream: Any) -> tuple[list[str], tuple[int, int], str]:
        parts: list[str] = []
        usage = (0, 0)
        finish = ""
        chunks = stream.__aiter__()
        wait = self.endpoint.first_token_s
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), wait)
            except StopAsyncIteration:
                break
            except TimeoutError:
                await stream.close()
                raise EndpointError(
                    f"the LLM endpoint {self.endpoint.base_url} sent nothing for {wait:.0f} s"
                ) from None
            wait = self.endpoint.chunk_s
            if chunk.usage is not None:
                usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        if usage == (0, 0):
            usage = (0, len(parts))
        return parts, usage, finish
