"""Real editing traces (josephg/editing-traces, CC BY 4.0; see data/editing-traces/SOURCE.md).

- B4 (`automerge-paper`): 259,778 sequential single-character edits replayed with `ot.apply`.
- `friendsforever`: two users typing concurrently (1 s of artificial latency), replayed
  through a server-ordered OT path (`transform_against`) to the trace's final text.
"""

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from syncmesh_merge import ot
from syncmesh_merge.ot import Component, Op

DATA = Path(__file__).parent / "data" / "editing-traces"


def load(name: str) -> dict[str, Any]:
    trace: dict[str, Any] = json.loads(gzip.decompress((DATA / name).read_bytes()))
    return trace


def patch_to_op(pos: int, deleted: int, inserted: str) -> list[Component]:
    """A trace patch `[pos, numDeleted, inserted]` (Array.splice semantics) as an op."""
    op: list[Component] = []
    if pos:
        op.append(pos)
    if deleted:
        op.append({"d": deleted})
    if inserted:
        op.append(inserted)
    return op


@pytest.fixture(scope="module")
def friendsforever() -> dict[str, Any]:
    return load("friendsforever.json.gz")


def test_b4_automerge_paper_replays_to_end_content() -> None:
    trace = load("automerge-paper.json.gz")
    doc: str = trace["startContent"]
    inserts = deletes = 0
    for txn in trace["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            doc = ot.apply(doc, patch_to_op(pos, deleted, inserted))
            inserts += bool(inserted)
            deletes += bool(deleted)
    assert (inserts, deletes) == (182_315, 77_463)
    assert len(doc) == 104_852
    assert doc == trace["endContent"]


# --- the concurrent trace -------------------------------------------------------------------
#
# Each transaction names its agent (user) and parents. Its patches are positions in the text
# the user saw: the parents' state, i.e. every earlier op of its own plus the other user's
# ops up to the newest one in its parents' closure. Agents' own ops are totally ordered.
#
# The server commits transactions in file order (parents always come earlier, so that is a
# causal order). For 10,960 of the 26,078 transactions the user's view is NOT a prefix of
# that log: the user had typed ops that the server committed after other-user ops the user
# had not seen yet. So "base = log length at the parents" alone cannot work (tried: taking
# the longest log prefix inside the view as the base and transforming against everything
# after it, own ops included, fails at transaction 157 with a delete past the end of the
# document). A real client bridges the gap, and so does this simulation. Each user has:
#
# - a UI (the trace's view): its text, and `ui_pos`, how much of the log it has seen;
# - a connection (ShareDB-style client) that is always at the server's version right after
#   its own last commit. The gap between the two, `behind`, holds the other user's ops the
#   connection received that the UI has not shown yet, in the UI's frame.
#
# A transaction by user A:
# 1. The UI takes in the log entries its parents include (the other user's ops in log order,
#    popped from `behind`; if it needs ops newer than the connection has, the connection
#    fetches them first).
# 2. The patches are applied to the UI text (validated against it: a position that is not
#    in the user's view fails here).
# 3. UI frame → connection frame: ShareDB client transformX of the op against `behind`
#    (op "left", remote ops "right", matching the server's convention).
# 4. The connection sends the op with base = its version; the server rebases it with
#    `transform_against(op, log[base:])` — each committed op individually, side "left" —
#    applies it and appends it to the log.
# 5. The connection receives the ops committed before its own (they join `behind`,
#    transformed past the op) and its acknowledgement.


@dataclass
class User:
    text: str = ""
    ui_pos: int = 0  # log entries the UI has seen
    conn_pos: int = 0  # log entries the connection has
    behind: list[Op] = field(default_factory=list)


@dataclass
class Replay:
    server: str
    users: list[User]
    log: list[tuple[int, Op, int]]  # (agent, committed op, agent's sequence number)
    non_empty_rebases: int  # commits whose transform_against list was not empty
    rebased_against: int  # committed ops transformed against, summed


def transform_x(op: Op, remote: Op) -> tuple[Op, Op]:
    return ot.transform(op, remote, "left"), ot.transform(remote, op, "right")


def replay_concurrent(trace: dict[str, Any]) -> Replay:
    txns = trace["txns"]
    agents: int = trace["numAgents"]
    # Version vector of each transaction: how many ops of each agent its state includes.
    clocks: list[list[int]] = []
    for txn in txns:
        clock = [0] * agents
        for parent in txn["parents"]:
            clock = [max(x, y) for x, y in zip(clock, clocks[parent], strict=True)]
        clock[txn["agent"]] += 1
        clocks.append(clock)

    users = [User() for _ in range(agents)]
    log: list[tuple[int, Op, int]] = []
    log_index: dict[tuple[int, int], int] = {}
    server = ""
    non_empty = against = 0
    for txn, clock in zip(txns, clocks, strict=True):
        me = txn["agent"]
        user = users[me]
        # 1. everything the parents include, in log order
        target = user.ui_pos
        while target < len(log) and clock[log[target][0]] >= log[target][2]:
            target += 1
        if target > user.conn_pos:
            user.behind += [op for _, op, _ in log[user.conn_pos : target]]
            user.conn_pos = target
        for agent, _, _ in log[user.ui_pos : target]:
            if agent != me:
                user.text = ot.apply(user.text, user.behind.pop(0))
        user.ui_pos = target
        for agent, seen in enumerate(clock):
            if agent != me and seen:
                assert log_index[(agent, seen)] < target, "a parent op is missing from the view"
        # 2. the user's edit, on the text the user saw
        op: Op = []
        for pos, deleted, inserted in txn["patches"]:
            step = ot.validate_op(patch_to_op(pos, deleted, inserted), len(user.text))
            user.text = ot.apply(user.text, step)
            op = ot.compose(op, step)
        # 3. UI frame → connection frame
        bridged: list[Op] = []
        for remote in user.behind:
            op, remote = transform_x(op, remote)
            bridged.append(remote)
        user.behind = bridged
        # 4. the server rebases it over what was committed since the connection's version
        committed = [entry[1] for entry in log[user.conn_pos :]]
        final = ot.transform_against(op, committed)
        non_empty += bool(committed)
        against += len(committed)
        server = ot.apply(server, final)
        sequence = clock[me]
        log_index[(me, sequence)] = len(log)
        log.append((me, final, sequence))
        # 5. the connection catches up to its own commit
        for remote in committed:
            op, remote = transform_x(op, remote)
            user.behind.append(remote)
        assert op == final, "client and server disagree on the committed op"
        user.conn_pos = len(log)
    return Replay(server, users, log, non_empty, against)


def test_friendsforever_parent_states_are_not_log_prefixes(
    friendsforever: dict[str, Any],
) -> None:
    """Why the simulation needs the client half: file order is not each user's view."""
    txns = friendsforever["txns"]
    agents: int = friendsforever["numAgents"]
    order: list[list[int]] = [[] for _ in range(agents)]  # each agent's txn indexes
    clocks: list[list[int]] = []
    not_prefix = 0
    for index, txn in enumerate(txns):
        clock = [0] * agents
        for parent in txn["parents"]:
            clock = [max(x, y) for x, y in zip(clock, clocks[parent], strict=True)]
        # The view holds each agent's first clock[a] txns: a prefix of the file iff its
        # newest txn is preceded by exactly the others.
        newest = max((order[a][n - 1] for a, n in enumerate(clock) if n), default=-1)
        not_prefix += newest + 1 != sum(clock)
        clock[txn["agent"]] += 1
        clocks.append(clock)
        order[txn["agent"]].append(index)
    assert len(txns) == 26_078
    assert not_prefix == 10_960


def test_friendsforever_server_ordered_ot_reaches_end_content(
    friendsforever: dict[str, Any],
) -> None:
    replay = replay_concurrent(friendsforever)
    assert replay.server == friendsforever["endContent"]
    assert len(replay.server) == 21_362
    # The server really rebased ops (not only the client half).
    assert replay.non_empty_rebases == 1_165
    assert replay.rebased_against == 11_703
    # Every user's UI converges once it has seen the whole log.
    for me, user in enumerate(replay.users):
        user.behind += [op for _, op, _ in replay.log[user.conn_pos :]]
        for agent, _, _ in replay.log[user.ui_pos :]:
            if agent != me:
                user.text = ot.apply(user.text, user.behind.pop(0))
        assert not user.behind
        assert user.text == replay.server
