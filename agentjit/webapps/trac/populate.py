"""Create and fill a Trac environment in one process: `python populate.py ENV_DIR < spec.json`.

Run as a script by path (not imported by agentjit), so the caller's process never loads Trac and
the interpreter only imports Trac and passlib. The JSON spec comes from `data.spec()`. Seeding
through Trac's own model classes keeps the database exactly as the web UI would write it, and
doing it in one process costs a fraction of one `trac-admin` call per setting.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from passlib.hash import sha256_crypt
from trac.env import Environment
from trac.perm import PermissionSystem
from trac.ticket.model import Component, Milestone, Ticket
from trac.wiki.model import WikiPage

# A fixed salt keeps the environment byte-for-byte reproducible; 5000 rounds (the crypt default)
# keeps each login check fast, which matters when benchmarks log in many times.
HASHER = sha256_crypt.using(salt="agentjitseed", rounds=5000)


def create(env_dir: Path, spec: dict[str, Any]) -> Environment:
    options = [tuple(option) for option in spec["config"]]
    options += [("project", "name", spec["project"]), ("trac", "database", "sqlite:db/trac.db")]
    return Environment(str(env_dir), create=True, options=options)


def write_users(env: Environment, env_dir: Path, spec: dict[str, Any]) -> None:
    lines = [f"{user}:{HASHER.hash(password)}\n" for user, password in spec["users"].items()]
    (env_dir / "htpasswd").write_text("".join(lines))
    perms = PermissionSystem(env)
    for user in spec["admins"]:
        perms.grant_permission(user, "TRAC_ADMIN")


def replace_components(env: Environment, spec: dict[str, Any]) -> None:
    for old in list(Component.select(env)):
        old.delete()
    for name, owner in spec["components"].items():
        component = Component(env)
        component.name, component.owner = name, owner
        component.insert()
    for old in list(Milestone.select(env)):
        old.delete()
    for name in spec["milestones"]:
        milestone = Milestone(env)
        milestone.name = name
        milestone.insert()


def insert_tickets(env: Environment, spec: dict[str, Any]) -> None:
    for item in spec["tickets"]:
        ticket = Ticket(env)
        ticket.populate(item["fields"])
        ticket.insert(when=datetime.fromisoformat(item["time"]))
        if ticket.id != item["id"]:
            raise SystemExit(f"expected ticket #{item['id']}, Trac created #{ticket.id}")
        close = item.get("close")
        if close:
            ticket["status"], ticket["resolution"] = "closed", close["resolution"]
            ticket.save_changes(
                close["author"], close["comment"], when=datetime.fromisoformat(close["time"])
            )
    for comment in spec["comments"]:
        ticket = Ticket(env, comment["ticket"])
        ticket.save_changes(
            comment["author"], comment["text"], when=datetime.fromisoformat(comment["time"])
        )


def write_wiki(env: Environment, spec: dict[str, Any]) -> None:
    wiki = spec["wiki"]
    for name, text in wiki["pages"].items():
        page = WikiPage(env, name)
        page.text = text
        page.save(wiki["author"], "seed", t=datetime.fromisoformat(wiki["time"]))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: populate.py ENV_DIR < spec.json", file=sys.stderr)
        return 2
    env_dir = Path(argv[1]).resolve()
    spec = json.load(sys.stdin)
    env = create(env_dir, spec)
    try:
        write_users(env, env_dir, spec)
        replace_components(env, spec)
        insert_tickets(env, spec)
        write_wiki(env, spec)
    finally:
        env.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
