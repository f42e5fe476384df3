"""Browser backends implementing `agentjit.tools.Page` (Selenium, CDP). Nothing here yet:
they arrive with the backends-and-runtime issue."""
