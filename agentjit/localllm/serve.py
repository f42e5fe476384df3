"""The local server: `python -m agentjit.localllm.serve` takes llama_cpp.server's flags.

It is llama_cpp.server with sample-then-check grammar sampling installed
(agentjit.localllm.sample_then_check), which makes grammar-constrained plans sample several times
faster. `--stock-sampler` leaves llama-cpp-python's own sampling in place, for comparisons.
"""

from __future__ import annotations

import sys

STOCK_FLAG = "--stock-sampler"


def main(argv: list[str]) -> None:
    if STOCK_FLAG in argv:
        argv.remove(STOCK_FLAG)
    else:
        from agentjit.localllm.sample_then_check import install

        install()
    from llama_cpp.server.__main__ import main as serve

    sys.argv = [sys.argv[0], *argv]
    serve()


if __name__ == "__main__":
    main(sys.argv[1:])
