"""Hypothesis profile for the merge property tests (registered here, applied per test)."""

from hypothesis import settings

# No example database: failures found once are kept as @example(...) regressions in the
# test files instead of a local directory nobody commits.
settings.register_profile("syncmesh-merge", database=None, deadline=None, derandomize=False)
