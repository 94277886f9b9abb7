"""Root conftest: the real-NATS fixtures of ``syncmesh_kit.testing`` for every test."""

pytest_plugins = ["syncmesh_kit.testing"]
