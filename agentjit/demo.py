"""`agentjit demo`: compile a shipped example and show each stage of the pipeline."""

from __future__ import annotations

import io
from pathlib import Path

from agentjit.ir import print_ir


def run_demo(examples: Path) -> int:
    from agentjit import compile_file
    from agentjit.ir.graph import dataflow_graph
    from agentjit.passes import PassContext, PassManager

    path = examples / "shop_cheapest.agent"
    print(f"== 1. the program ({path.name})\n")
    print(path.read_text(encoding="utf-8"))
    compiled = compile_file(path)
    text = print_ir(compiled.module)
    print(f"== 2. its IR ({sum(1 for _ in compiled.module.walk())} ops)\n")
    print(text)
    report = io.StringIO()
    manager = PassManager.from_pipeline("canonicalize,verify", time_passes=True, out=report)
    manager.run(compiled.module, PassContext())
    print(f"== 3. after canonicalize ({sum(1 for _ in compiled.module.walk())} ops)\n")
    print(print_ir(compiled.module))
    print(report.getvalue())
    graph = dataflow_graph(compiled.module.functions[0])
    tokens = sum(1 for *_, d in graph.edges(data=True) if d["token"])
    print(
        f"== 4. dataflow graph: {graph.number_of_nodes()} ops, {graph.number_of_edges()} "
        f"edges, {tokens} of them state-token edges (agentjit opt FILE --emit dot)\n"
    )
    show_schedule(examples / "shop_fanout_details.agent")
    return 0


PARALLEL = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4},schedule"


def show_schedule(path: Path) -> None:
    """Parallelize a fan-out program and show its predicted schedule (cost-model priors)."""
    from agentjit import compile_file
    from agentjit.cost.gantt import schedule_text
    from agentjit.passes import PassContext, PassManager

    module = compile_file(path).module
    ctx = PassContext()
    PassManager.from_pipeline(PARALLEL).run(module, ctx)
    result = ctx.options["schedule"]
    print(f"== 5. {path.name} parallelized and scheduled (agentjit opt FILE --emit schedule)\n")
    print(schedule_text(result), end="")
