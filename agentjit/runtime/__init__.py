"""The async runtime that executes scheduled plans on a backend. Nothing here yet: it arrives
with the backends-and-runtime issue."""
