"""The predicted schedule, for people: a strategy table, a text Gantt chart, and a PNG.

The chart shows one deterministic run of the chosen strategy with every op at its mean
latency (trip counts at their mean, each branch on its likelier side): where each op would
start and end, tab by tab. The table and the PNG's histogram show the sampled distributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentjit.cost.plan import Choice, FlatPlan, Strategy
from agentjit.cost.reference import Trace, python_schedule
from agentjit.cost.simulate import Prediction

BAR = "█"


def strategy_table(predictions: Sequence[Prediction], objective: str) -> str:
    """Every strategy's mean / p50 / p95, best (first) marked."""
    lines = [f"{'strategy':<12} {'mean':>9} {'p50':>9} {'p95':>9}   (objective: {objective})"]
    for rank, p in enumerate(predictions):
        mark = "  <- chosen" if rank == 0 else ""
        lines.append(
            f"{p.strategy.label:<12} {_secs(p.mean):>9} {_secs(p.p50):>9} {_secs(p.p95):>9}{mark}"
        )
    return "\n".join(lines)


def schedule_text(choice: Choice) -> str:
    """The strategy table, a blank line, and the Gantt chart of the best strategy."""
    table = strategy_table(choice.predictions, choice.objective)
    return f"{table}\n\n{gantt_text(choice.plan, choice.best.strategy)}\n"


def lanes(plan: FlatPlan, trace: Trace) -> dict[str, list[int]]:
    """Timed nodes that ran, grouped by the tab (or LLM) they ran on, in order of first use."""
    found: dict[str, list[int]] = {}
    order = sorted(range(plan.n_nodes), key=lambda v: (trace.start[v], v))
    for v in order:
        if plan.node_dist[v] >= 0 and trace.active[v]:
            found.setdefault(plan.info[v].lane, []).append(v)
    return found


def gantt_text(plan: FlatPlan, strategy: Strategy, width: int = 64) -> str:
    """A text Gantt chart of `strategy` at mean latencies."""
    trace = python_schedule(plan, strategy, means=True)
    span = trace.makespan
    if span <= 0:
        return "(nothing takes time: the plan makes no tool or LLM calls)"
    rows = lanes(plan, trace)
    label_width = max(len(name) for name in rows)
    scale = width / span
    out = [f"{strategy.label}: {_secs(span)} at mean latencies; one column = {_secs(1 / scale)}"]
    for name, nodes in rows.items():
        cells = [" "] * width
        for v in nodes:
            lo = min(width - 1, int(trace.start[v] * scale))
            hi = max(lo + 1, min(width, round(trace.finish[v] * scale)))
            cells[lo:hi] = BAR * (hi - lo)
        ops = ", ".join(plan.info[v].label for v in nodes[:4]) + (" ..." if len(nodes) > 4 else "")
        out.append(f"{name:<{label_width}} |{''.join(cells)}| {ops}")
    out.append(f"{'':<{label_width}}  0{'':<{width - 2 - len(_secs(span))}}{_secs(span)}")
    return "\n".join(out)


def plot_schedule(
    plan: FlatPlan, predictions: Sequence[Prediction], path: str | Path, title: str = ""
) -> Path:
    """Write a PNG: the chosen strategy's Gantt chart above every strategy's makespan
    histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = predictions[0]
    trace = python_schedule(plan, best.strategy, means=True)
    rows = lanes(plan, trace)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 3 + 0.3 * len(rows)))
    for y, nodes in enumerate(rows.values()):
        spans = [(trace.start[v], trace.finish[v] - trace.start[v]) for v in nodes]
        top.broken_barh(spans, (y - 0.4, 0.8), edgecolor="black", linewidth=0.3)
    top.set_yticks(range(len(rows)), list(rows))
    top.invert_yaxis()
    top.set_xlabel("seconds (mean latencies)")
    top.set_title(title or f"{best.strategy.label}: predicted schedule")
    for p in predictions:
        bottom.hist(p.makespans, bins=60, histtype="step", label=p.strategy.label)
    bottom.set_xlabel("makespan (s), sampled")
    bottom.legend(fontsize="small")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _secs(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
