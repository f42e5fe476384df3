"""Grammar-constrained sampling that draws first and asks the grammar after, for llama-cpp-python.

llama-cpp-python puts the grammar sampler at the head of its sampler chain, so at every token
llama.cpp checks the whole vocabulary (49,152 tokens for SmolLM2) against every way through the
grammar that is still open. That made a DSL plan sample 5-10x slower than unconstrained text.
llama.cpp's own server avoids it (`common_sampler_sample` with `grammar_first = false`): sample
from the unconstrained chain, ask the grammar about that one token, and only when it is refused
apply the grammar to the whole vocabulary and sample again. Without truncation (top-k, top-p,
min-p) both draw from the same distribution - a token t the grammar allows is drawn with
probability p(t) + (1 - Z) * p(t) / Z = p(t) / Z, where Z is the allowed mass - and with it they
differ only in which unlikely tokens are cut; but this one checks one token on most steps.

`install()` makes `Llama._init_sampler` build a `SampleThenCheckSampler` whenever a grammar is
given; without a grammar nothing changes. `agentjit.localllm.serve` installs it in the server
process. It relies on llama-cpp-python internals (`_init_sampler` and the `sample(ctx, idx)`
protocol of its sampler), checked by `tests/test_localllm.py` against the installed version.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np


class SampleThenCheckSampler:
    """An unconstrained sampler chain, and a grammar sampler asked about the token it draws."""

    def __init__(self, chain: Any, grammar: Any, n_vocab: int) -> None:
        import llama_cpp

        self._llama = llama_cpp
        self.chain = chain  # a llama_cpp._internals.LlamaSampler without the grammar
        self.grammar = grammar  # a raw llama_sampler pointer, owned here
        self.n_vocab = n_vocab
        self._tokens = (llama_cpp.llama_token_data * n_vocab)()
        self._view = np.ctypeslib.as_array(self._tokens)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._one = (llama_cpp.llama_token_data * 1)()
        self.checked = 0  # tokens drawn
        self.resampled = 0  # of which the grammar refused the first draw

    def sample(self, ctx: Any, idx: int = -1) -> int:
        """Draw the next token at logits row `idx` and advance the chain and the grammar."""
        token = self._draw(ctx, idx, with_grammar=False)
        self.checked += 1
        if not self._allows(token):
            self.resampled += 1
            token = self._draw(ctx, idx, with_grammar=True)
        self.accept(token)
        return token

    def _draw(self, ctx: Any, idx: int, *, with_grammar: bool) -> int:
        lib = self._llama
        logits = lib.llama_get_logits_ith(ctx.ctx, idx)
        self._view["id"] = self._ids
        self._view["logit"] = np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        self._view["p"] = 0.0
        array = lib.llama_token_data_array(self._tokens, self.n_vocab, -1, False)
        if with_grammar:
            lib.llama_sampler_apply(self.grammar, ctypes.byref(array))
        lib.llama_sampler_apply(self.chain.sampler, ctypes.byref(array))
        if array.selected < 0:
            raise RuntimeError("the llama.cpp sampler chain selected no token")
        return int(array.data[array.selected].id)

    def _allows(self, token: int) -> bool:
        lib = self._llama
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 1.0, 0.0
        array = lib.llama_token_data_array(self._one, 1, -1, False)
        lib.llama_sampler_apply(self.grammar, ctypes.byref(array))
        return bool(np.isfinite(self._one[0].logit))

    def accept(self, token: int) -> None:
        """Advance the grammar and the chain (penalties' history) past `token`."""
        self._llama.llama_sampler_accept(self.grammar, token)
        self.chain.accept(token)

    def close(self) -> None:
        if self.grammar is not None:
            self._llama.llama_sampler_free(self.grammar)
            self.grammar = None
        self.chain.close()

    def __del__(self) -> None:
        self.close()


def grammar_sampler(model: Any, grammar: Any) -> Any:
    """A llama.cpp grammar sampler for a `LlamaGrammar`; `ValueError` if it does not parse."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(
        model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    )
    if not sampler:
        raise ValueError("llama.cpp could not parse the grammar")
    return sampler


def checking(stock: Callable[..., Any]) -> Callable[..., Any]:
    """`Llama._init_sampler` made to return a `SampleThenCheckSampler` when given a grammar."""

    def init_sampler(self: Any, *args: Any, grammar: Any = None, **kwargs: Any) -> Any:
        chain = stock(self, *args, grammar=None, **kwargs)
        if grammar is None:
            return chain
        return SampleThenCheckSampler(chain, grammar_sampler(self._model, grammar), self._n_vocab)

    init_sampler.samples_then_checks = True  # type: ignore[attr-defined]
    return init_sampler


def install() -> None:
    """Make `llama_cpp.Llama` sample then check from now on, in this process (idempotent)."""
    from llama_cpp import Llama

    if not getattr(Llama._init_sampler, "samples_then_checks", False):
        Llama._init_sampler = checking(Llama._init_sampler)  # type: ignore[method-assign]
