"""`llm(...)` calls at run time, through any OpenAI-compatible endpoint.

The endpoint comes from the environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`; the model named in
the program, else `AGENTJIT_LLM_MODEL`). Every call has a timeout. The answer is data: it becomes
a string value in the program and can never change the compiled plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from agentjit.ir.builtins import fill_template
from agentjit.ir.ops import LlmCallOp


class LlmUnavailable(RuntimeError):
    """The program calls `llm(...)` but no endpoint is configured or it did not answer."""


@dataclass
class OpenAiLlm:
    """Chat completions on an OpenAI-compatible server; `usage` feeds the profile store."""

    base_url: str
    api_key: str = "unused"
    default_model: str = ""
    timeout_s: float = 60.0

    @classmethod
    def from_environment(cls) -> OpenAiLlm | None:
        base_url = os.environ.get("OPENAI_BASE_URL", "")
        if not base_url:
            return None
        return cls(
            base_url,
            os.environ.get("OPENAI_API_KEY", "unused"),
            os.environ.get("AGENTJIT_LLM_MODEL", ""),
        )

    async def __call__(
        self, template: str, values: dict[str, Any], op: LlmCallOp
    ) -> tuple[str, int, int]:
        """The model's answer, with prompt and output token counts."""
        from openai import AsyncOpenAI, OpenAIError

        model = op.model or self.default_model
        client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s)
        request: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": fill_template(template, values)}],
            "temperature": op.temperature,
        }
        try:
            reply = await client.chat.completions.create(**request)
        except OpenAIError as e:
            raise LlmUnavailable(f"the LLM endpoint {self.base_url} failed: {e}") from e
        finally:
            await client.close()
        usage = reply.usage
        text = reply.choices[0].message.content or ""
        return text, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0
