"""A scripted `LlmClient` for tests: no model, no server, the replies written in advance.

client = ScriptedClient(['{"tool": "list_products", "args": {}}', '{"done": 3}'])
client = ScriptedClient([first, lambda messages: reply_from(messages)], then='{"done": null}')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentjit.planner.endpoint import Completion, EndpointError, Message

Reply = str | Callable[[list[Message]], str]


@dataclass
class ScriptedClient:
    """Test double of `LlmClient`: returns pre-written replies in order and records every
    request it was sent (messages, grammar, max_tokens, temperature, seed).

    A reply is a string, or a function of the messages (to answer from what the caller showed,
    e.g. pick a product from an observed listing). When the script runs out, `then` is returned
    if given, else `EndpointError` is raised, as a dead endpoint would.
    """

    replies: Sequence[Reply]
    then: str | None = None
    latency_s: float = 0.0
    """Reported as each completion's latency (nothing waits)."""
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.requests)

    @property
    def sent(self) -> list[list[Message]]:
        """The messages of every request, in order."""
        return [r["messages"] for r in self.requests]

    async def complete(
        self,
        messages: list[Message],
        *,
        grammar: str | None = None,
        max_tokens: int = 512,
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> Completion:
        index = len(self.requests)
        self.requests.append(
            {
                "messages": [dict(m) for m in messages],
                "grammar": grammar,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "seed": seed,
            }
        )
        if index < len(self.replies):
            reply = self.replies[index]
            text = reply(messages) if callable(reply) else reply
        elif self.then is not None:
            text = self.then
        else:
            raise EndpointError(f"the script has {len(self.replies)} replies; asked for more")
        prompt_chars = sum(len(m["content"]) for m in messages)
        # Token counts are a rough 4 characters a token: enough for the counters to add up.
        return Completion(text, prompt_chars // 4, max(1, len(text) // 4), self.latency_s, "stop")
