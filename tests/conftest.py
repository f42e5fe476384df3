"""Test-wide settings: verify the IR after every pass, even passes that report no change."""

import os

os.environ.setdefault("AGENTJIT_VERIFY_ALL", "1")
