"""``python -m syncmesh_cli``."""

from .main import main

main()
