"""What a run did, when: slices per tab row, written as Chrome trace-event JSON and fed to the
profile store.

The JSON opens in Perfetto or chrome://tracing: one process, a row ("thread") per tab plus one
for LLM calls, each tool call or primitive a complete ("X") slice with its arguments and outcome.
The same slices become profile samples (latency per tool, tab.open/tab.close, LLM calls with
token counts, each tagged with the run's backend) and the loop trips, branch outcomes and list
lengths the run observed. Only completed calls are samples: a failed call, or one cancelled
because another copy of a hedged chain won (args `cancelled`), measured no full latency.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentjit.cost.profile import Sample

LLM_ROW = 1000
"""The row of LLM calls (after any plausible tab number)."""


@dataclass(frozen=True)
class Slice:
    row: int
    name: str
    start_s: float
    end_s: float
    args: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    sample: bool = True
    """Whether the slice is an op's latency the cost model learns (not a runtime chore)."""

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s

    @property
    def cancelled(self) -> bool:
        return bool(self.args.get("cancelled"))


@dataclass
class Recorder:
    """Collects slices and counts during one run (times relative to its start)."""

    run_id: str = ""
    backend: str | None = None
    started: float = field(default_factory=time.perf_counter)
    slices: list[Slice] = field(default_factory=list)
    counts: list[Sample] = field(default_factory=list)
    """Trip counts, branch outcomes and list lengths seen, as profile samples."""
    llm_tokens: dict[int, tuple[int, int]] = field(default_factory=dict)

    def now(self) -> float:
        return time.perf_counter() - self.started

    def add(
        self,
        row: int,
        name: str,
        start_s: float,
        args: dict[str, Any],
        ok: bool,
        sample: bool = True,
    ) -> Slice:
        done = Slice(row, name, start_s, self.now(), args, ok, sample)
        self.slices.append(done)
        return done

    def count(self, kind: str, key: str, value: float) -> None:
        self.counts.append(Sample(kind, key, float(value), **self._source()))

    def _source(self) -> dict[str, Any]:
        return {"run": self.run_id or None, "backend": self.backend}

    @property
    def makespan_s(self) -> float:
        return max((s.end_s for s in self.slices), default=0.0)

    def samples(self) -> list[Sample]:
        """Profile samples: one latency per completed op, plus the counts."""
        out = []
        for s in self.slices:
            if not s.ok or not s.sample:
                continue
            prompt, output = s.args.get("prompt_tokens"), s.args.get("output_tokens")
            out.append(Sample("latency", s.name, s.seconds, prompt, output, **self._source()))
        return out + self.counts

    def chrome_trace(self) -> dict[str, Any]:
        events: list[dict[str, Any]] = [
            {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "agentjit run"}}
        ]
        for row in sorted({s.row for s in self.slices}):
            label = "llm" if row == LLM_ROW else f"tab {row}"
            events.append(
                {"name": "thread_name", "ph": "M", "pid": 1, "tid": row, "args": {"name": label}}
            )
        for s in self.slices:
            events.append(
                {
                    "name": s.name,
                    "cat": _category(s),
                    "ph": "X",
                    "pid": 1,
                    "tid": s.row,
                    "ts": round(s.start_s * 1e6, 1),
                    "dur": round(s.seconds * 1e6, 1),
                    "args": {**_jsonable(s.args), "ok": s.ok},
                }
            )
        return {"traceEvents": events, "displayTimeUnit": "ms"}

    def write_chrome_trace(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.chrome_trace(), indent=1))

    def plot(self, path: Path | str, title: str = "") -> None:
        """A Gantt chart of the run (a bar per slice, a row per tab) as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = sorted({s.row for s in self.slices})
        fig, ax = plt.subplots(figsize=(10, 1 + 0.5 * len(rows)))
        for s in self.slices:
            y = rows.index(s.row)
            colour = "tab:gray" if s.cancelled else "tab:blue" if s.ok else "tab:red"
            ax.barh(y, s.seconds, left=s.start_s, color=colour)
            ax.text(s.start_s, y, s.name.rpartition(".")[2], va="center", fontsize=7)
        ax.set_yticks(range(len(rows)), ["llm" if r == LLM_ROW else f"tab {r}" for r in rows])
        ax.set_xlabel("seconds")
        ax.set_title(title or f"measured run: {self.makespan_s:.3f} s")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def _category(s: Slice) -> str:
    if s.row == LLM_ROW:
        return "llm"
    if s.cancelled:
        return "cancelled"
    if s.name.startswith("hedge"):
        return "hedge"
    return "prim" if s.name.startswith("tab.") else "tool"


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in args.items():
        text = v if isinstance(v, int | float | bool | type(None)) else str(v)
        out[k] = text[:200] + "…" if isinstance(text, str) and len(text) > 200 else text
    return out
