"""`agentjit profile show|import|export`: look into the profile store and move samples around.

    agentjit profile show [--kind K] [--json]     one row per key: n, source, median, mean, p95
    agentjit profile import FILE|-                 append JSON-lines samples (all or nothing)
    agentjit profile export [-o FILE] [--kind K]   samples as JSON lines

Every subcommand takes `--db PATH` (default: $AGENTJIT_PROFILE, else
~/.cache/agentjit/profile.sqlite). A bad import line or a file that is not a profile store raises
`ProfileError`, which `agentjit`'s main prints as a located diagnostic.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentjit.cost.profile import KINDS, ProfileError, ProfileStore
from agentjit.ir import error

if TYPE_CHECKING:
    from agentjit.cost.distributions import Distribution

_COLUMNS = ("kind", "key", "n", "source", "median", "mean", "p95")


def add_profile_parser(sub: argparse._SubParsersAction) -> None:
    """Register `profile` and its subcommands on the top-level subparsers."""
    profile = sub.add_parser("profile", help="show, import or export measured latencies")
    psub = profile.add_subparsers(dest="profile_command", required=True)
    db_help = f"the profile store (default: {ProfileStore.default_path()})"

    show = psub.add_parser("show", help="one row per measured key with its fitted distribution")
    show.add_argument("--db", metavar="PATH", help=db_help)
    show.add_argument("--kind", choices=KINDS, help="only this kind of sample")
    show.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    show.set_defaults(func=cmd_profile_show)

    imp = psub.add_parser("import", help="append samples from JSON lines")
    imp.add_argument("file", metavar="FILE|-", help="JSON lines: kind, key, value, ...")
    imp.add_argument("--db", metavar="PATH", help=db_help)
    imp.set_defaults(func=cmd_profile_import, json=False)

    exp = psub.add_parser("export", help="write samples as JSON lines")
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    exp.add_argument("--db", metavar="PATH", help=db_help)
    exp.add_argument("--kind", choices=KINDS, help="only this kind of sample")
    exp.set_defaults(func=cmd_profile_export, json=False)


def _db(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else ProfileStore.default_path()


def cmd_profile_show(args: argparse.Namespace) -> int:
    db = _db(args)
    if not db.exists():
        # Showing must not create an empty store as a side effect.
        rows: list[dict[str, Any]] = []
    else:
        with ProfileStore(db) as store:
            from agentjit.cost.model import CostModel  # NumPy: only when showing fits

            described = CostModel(store).describe()
        rows = [_row(kind, key, n, d) for kind, key, n, d in described if _wanted(args, kind)]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no samples in {db}")
    else:
        print(format_table(rows))
    return 0


def cmd_profile_import(args: argparse.Namespace) -> int:
    db = _db(args)
    if args.file == "-":
        with ProfileStore(db) as store:
            count = store.import_jsonl(sys.stdin, "<stdin>")
    else:
        try:
            src = open(args.file, encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            message = f"cannot read {args.file}: {exc.strerror}"
            raise ProfileError(error("profile-import", message)) from None
        with src, ProfileStore(db) as store:
            count = store.import_jsonl(src, args.file)
    print(f"imported {count} samples into {db}")
    return 0


def cmd_profile_export(args: argparse.Namespace) -> int:
    with ProfileStore(_db(args)) as store:
        if args.output is None:
            store.export_jsonl(sys.stdout, args.kind)
            return 0
        with open(args.output, "w", encoding="utf-8") as out:
            count = store.export_jsonl(out, args.kind)
    print(f"exported {count} samples to {args.output}", file=sys.stderr)
    return 0


def _wanted(args: argparse.Namespace, kind: str) -> bool:
    return args.kind is None or args.kind == kind


def _row(kind: str, key: str, n: int, d: Distribution) -> dict[str, Any]:
    """One `show` row as data; a branch has a probability instead of median, mean and p95."""
    row: dict[str, Any] = {"kind": kind, "key": key, "n": n, "source": d.source}
    if kind == "branch":
        return {**row, "probability": d.mean()}
    return {
        **row,
        "median": d.quantile(0.5),
        "mean": d.mean(),
        "p95": d.quantile(0.95),
        "distribution": d.describe("s" if kind == "latency" else ""),
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain aligned text: a header, then one line per row (numbers right-aligned)."""
    cells = [[c.upper() for c in _COLUMNS]]
    cells += [[_cell(row, c) for c in _COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    lines = []
    for line in cells:
        parts = [
            v.ljust(w) if c in ("kind", "key", "source") else v.rjust(w)
            for v, w, c in zip(line, widths, _COLUMNS, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if column in ("kind", "key", "source", "n"):
        return str(value)
    if row["kind"] == "branch":
        return f"p={row['probability']:.3f}" if column == "mean" else "-"
    if row["kind"] == "latency":
        return _seconds(value)
    return f"{value:.1f}"


def _seconds(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 1.0 else f"{x:.2f} s"
