"""``syncmesh``: the command-line tool (dev stack, status, tokens)."""
