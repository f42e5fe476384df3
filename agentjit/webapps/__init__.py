"""Real web applications written by others (django-oscar, Trac), installed from the package
registries, seeded with deterministic data and served on 127.0.0.1 for tests and benchmarks."""

from agentjit.webapps.server import AppError, AppServer, free_port, run_checked, wait_for_http

__all__ = ["AppError", "AppServer", "free_port", "run_checked", "wait_for_http"]
