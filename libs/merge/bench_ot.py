"""Benchmark (not a test): replay the B4 editing trace through `syncmesh_merge.ot`.

B4 = josephg/editing-traces `automerge-paper`: 259,778 single-character edits. Prints ops/s
for `apply` alone (the snapshot path), for `validate_op` + `apply` (what a server does with
a client op) and for `transform` of each edit against the one before it (the rebase path).
Best of `--repeat` runs; trace parsing and patch conversion are not timed.

    cd libs/merge && PYTHONPATH=src python bench_ot.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

from syncmesh_merge import ot
from syncmesh_merge.ot import Component

TRACE = Path(__file__).parent / "tests" / "data" / "editing-traces" / "automerge-paper.json.gz"


def load_ops(path: Path) -> tuple[list[list[Component]], str]:
    trace = json.loads(gzip.decompress(path.read_bytes()))
    ops: list[list[Component]] = []
    for txn in trace["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            op: list[Component] = [pos] if pos else []
            if deleted:
                op.append({"d": deleted})
            if inserted:
                op.append(inserted)
            ops.append(op)
    return ops, trace["endContent"]


def best_of(repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trace", type=Path, default=TRACE)
    args = parser.parse_args()
    ops, end_content = load_ops(args.trace)

    def replay() -> str:
        doc = ""
        for op in ops:
            doc = ot.apply(doc, op)
        return doc

    def replay_validated() -> str:
        doc = ""
        for op in ops:
            doc = ot.apply(doc, ot.validate_op(op, len(doc)))
        return doc

    def transform_pairs() -> None:
        for previous, op in itertools.pairwise(ops):
            ot.transform(op, previous, "left")

    assert replay() == end_content, "B4 replay does not reach endContent"
    n = len(ops)
    print(f"B4 automerge-paper: {n:,} ops, final text {len(end_content):,} code points")
    for label, run, count in [
        ("apply", replay, n),
        ("validate_op + apply", replay_validated, n),
        ("transform (each op vs the previous)", transform_pairs, n - 1),
    ]:
        seconds = best_of(args.repeat, run)
        print(f"{label:38s} {seconds:7.3f} s  {count / seconds:12,.0f} ops/s")


if __name__ == "__main__":
    main()
