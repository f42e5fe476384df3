"""Sites shipped with agentjit, one module each, shaped after the benchmark web apps."""
