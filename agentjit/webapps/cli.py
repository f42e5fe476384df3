"""`agentjit serve oscar|trac`: seed (once, cached), copy and serve a real web application on
127.0.0.1 until interrupted, for trying programs by hand with `agentjit run --site`."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

APPS = {"oscar": "shop", "trac": "tracker"}
"""Each application, and the shipped site that drives it."""


def add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="start django-oscar or Trac on 127.0.0.1")
    serve.add_argument("app", choices=sorted(APPS))
    serve.add_argument("--port", type=int, default=None, help="default: a free port")
    serve.set_defaults(func=cmd_serve, json=False)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.app == "oscar":
        from agentjit.webapps import oscar as app
    else:
        from agentjit.webapps import trac as app
    print(f"seeding {args.app} (cached after the first time)...", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"agentjit-{args.app}-") as tmp:
        data = app.fresh_copy(app.seeded_template(), Path(tmp) / args.app)
        with app.start(data, port=args.port) as server:
            print(f"{args.app} serves {server.url}  (Ctrl-C stops it)")
            print(f"  agentjit run PROGRAM --site {APPS[args.app]}={server.url}", flush=True)
            try:
                while server.process.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
    return 0
