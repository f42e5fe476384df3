"""`python -m agentjit` is the `agentjit` command."""

from agentjit.cli import main

raise SystemExit(main())
