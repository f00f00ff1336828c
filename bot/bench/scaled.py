"""Scaled serving benchmark: the embedded stack, 1 and 2 Rasa processes behind HAProxy.

Three stacks, started side by side and measured in turns, on the same machine and under the
same load (visitors who
do not pause, sending Rasa's REST webhook the same walks as the serving benchmark):

- embedded: `make run`'s Rasa server and action server (SQLite tracker store, in-memory
  lock), the load sent straight to Rasa;
- scaled, 1 and 2 Rasa processes: `bot.scaled.ScaledStack` with its own PostgreSQL and
  Redis (conversations and the lock store in Redis), the load sent to HAProxy's bot front,
  which routes each conversation to one process.

After each load, every conversation's tracker is read back (through HAProxy for the scaled
stacks) and compared with what was sent: a user message missing, in another order or twice,
or left without a bot answer, is counted. The CPU time of each piece (its processes and
their children, from /proc) is read before and after the load; memory is the proportional
set size (PSS) of each piece, so that PostgreSQL's shared buffers are not counted once per
backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.bench import serving
from bot.bench.report import Target
from bot.bench.serving import children_map, tree

# Targets of issue 16 (2 cores).
SPEEDUP = 1.5  # turns/s of 2 Rasa processes over 1, visitors not pausing
P95_MS_AT_10 = 150.0  # 10 visitors not pausing, 2 Rasa processes
TRACKER_TIMEOUT = 10.0

PIECES = ("rasa", "actions", "postgres", "redis", "haproxy", "load generator")


# --- was every turn kept, in order? --------------------------------------------------------


@dataclass
class OrderCheck:
    """What the trackers say of the turns sent (summed over conversations)."""

    conversations: int = 0
    sent: int = 0
    seen: int = 0  # user messages in the trackers
    lost: int = 0  # sent, not in the tracker
    reordered: int = 0  # in the tracker, not where they were sent
    duplicated: int = 0  # in the tracker more often than sent
    unanswered: int = 0  # a user message with no bot message before the next one
    unreadable: int = 0  # conversations whose tracker could not be read

    def __add__(self, other: OrderCheck) -> OrderCheck:
        return OrderCheck(**{k: v + getattr(other, k) for k, v in asdict(self).items()})

    @property
    def clean(self) -> bool:
        return not (
            self.lost or self.reordered or self.duplicated or self.unanswered or self.unreadable
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _lcs(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (a conversation is at most 20 turns)."""
    row = [0] * (len(b) + 1)
    for x in a:
        previous = 0  # row[j - 1] of the line above
        for j, y in enumerate(b, start=1):
            current = row[j]
            row[j] = previous + 1 if x == y else max(row[j], row[j - 1])
            previous = current
    return row[-1]


def check_order(sent: list[str], events: list[dict[str, Any]] | None) -> OrderCheck:
    """Compare one conversation's messages, as sent, with its tracker's events.

    Lost and duplicated count messages (a multiset difference); reordered counts the
    messages kept that are out of place (those outside the longest common subsequence)."""
    if events is None:
        return OrderCheck(conversations=1, sent=len(sent), lost=len(sent), unreadable=1)
    seen: list[str] = []
    unanswered = 0
    waiting = False  # a user message with no bot message yet
    for event in events:
        if event.get("event") == "user":
            unanswered += waiting
            seen.append(str(event.get("text") or ""))
            waiting = True
        elif event.get("event") == "bot":
            waiting = False
    unanswered += waiting
    kept = sum((Counter(sent) & Counter(seen)).values())
    return OrderCheck(
        conversations=1,
        sent=len(sent),
        seen=len(seen),
        lost=len(sent) - kept,
        reordered=kept - _lcs(sent, seen),
        duplicated=len(seen) - kept,
        unanswered=unanswered,
    )


async def read_trackers(
    base_url: str, token: str, senders: Iterable[str], concurrency: int = 10
) -> dict[str, list[dict[str, Any]] | None]:
    """Every event of each conversation, by Rasa's HTTP API (None: could not be read)."""
    import httpx

    serving.require_loopback(base_url)
    limit = asyncio.Semaphore(concurrency)
    out: dict[str, list[dict[str, Any]] | None] = {}
    async with httpx.AsyncClient(
        base_url=base_url, timeout=TRACKER_TIMEOUT, trust_env=False
    ) as client:

        async def one(sender: str) -> None:
            async with limit:
                try:
                    response = await client.get(
                        f"/conversations/{sender}/tracker",
                        params={"token": token, "include_events": "ALL"},
                    )
                    events = response.json().get("events") if response.status_code == 200 else None
                except (httpx.HTTPError, ValueError, AttributeError):
                    events = None
                out[sender] = events if isinstance(events, list) else None

        await asyncio.gather(*(one(s) for s in senders))
    return out


def check_conversations(
    sent: dict[str, list[str]], trackers: dict[str, list[dict[str, Any]] | None]
) -> OrderCheck:
    total = OrderCheck()
    for sender, messages in sent.items():
        total = total + check_order(messages, trackers.get(sender))
    return total


# --- CPU and memory of each piece, from /proc ----------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of one process and of its children it has waited for
    (a PostgreSQL backend that ended is counted in the postmaster's); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is the state (field 3 of proc(5)): utime is 14, stime 15, cutime 16, cstime 17
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(roots: Iterable[int], children: dict[int, list[int]] | None = None) -> float:
    """CPU time of a piece: its processes, their live descendants and those they reaped.
    A process that ended between two readings moves from its own figure into its parent's
    children figure, so the total stays whole."""
    return sum(process_cpu_seconds(pid) for pid in tree(roots, children))


def pss_mb(pid: int) -> float:
    """Proportional set size of one process in MB (RSS when smaps_rollup is unreadable)."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
        except OSError:
            continue
    return 0.0


def cpu_snapshot(pieces: dict[str, list[int]]) -> dict[str, float]:
    children = children_map()
    snap = {piece: tree_cpu_seconds(roots, children) for piece, roots in pieces.items()}
    snap["load generator"] = time.process_time()  # this process, every thread
    return snap


def machine_busy_seconds(stat: str | None = None) -> float:
    """CPU time the whole machine has spent busy (every core: user, nice, system, irq,
    softirq, steal), from the first line of /proc/stat; idle and iowait left out."""
    if stat is None:
        try:
            stat = Path("/proc/stat").read_text()
        except OSError:
            return 0.0
    fields = [int(x) for x in stat.splitlines()[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # minus idle and iowait (guest in user)
    return busy / os.sysconf("SC_CLK_TCK")


def other_cores(busy_s: float, ours_s: float, wall_s: float) -> float:
    """Cores kept busy by work that is not ours (other programs on the machine) during a
    measurement: the machine's busy time minus the pieces' and the load generator's."""
    return max(0.0, busy_s - ours_s) / wall_s if wall_s > 0 else 0.0


def memory_mb(pieces: dict[str, list[int]]) -> dict[str, float]:
    children = children_map()
    return {piece: sum(pss_mb(p) for p in tree(roots, children)) for piece, roots in pieces.items()}


def per_turn_ms(before: dict[str, float], after: dict[str, float], turns: int) -> dict[str, float]:
    return {k: (after[k] - before.get(k, 0.0)) * 1000 / max(1, turns) for k in after}


def postmaster_pid(data: Path) -> int | None:
    """The PostgreSQL server's pid, first line of postmaster.pid in its data folder."""
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def scaled_pieces(stack: Any) -> dict[str, list[int]]:
    """The root processes of each piece of a running `bot.scaled.ScaledStack`."""

    def pids(servers: list[Any]) -> list[int]:
        return [s.process.pid for s in servers if s.process is not None]

    pieces = {"rasa": pids(stack.rasa), "actions": pids(stack.actions)}
    postgres = stack.postgres
    master = postmaster_pid(postgres.data) if postgres is not None else None
    pieces["postgres"] = [master] if master else []
    redis = stack.redis
    pieces["redis"] = [redis.process.pid] if redis is not None and redis.process else []
    pieces["haproxy"] = pids([stack.haproxy]) if stack.haproxy is not None else []
    return pieces


def embedded_pieces(stack: Any) -> dict[str, list[int]]:
    """The Rasa server and the action server of a running `bot.stack.Stack`."""
    return {name: [stack.processes[name].pid] for name in ("rasa", "actions")}


# --- one stack under load ------------------------------------------------------------------


def conversations_for(visitors: int, turns: int, total_turns: int) -> int:
    """Conversations per visitor so that a level sends about `total_turns` turns."""
    return max(1, min(serving.MAX_CONVERSATIONS, math.ceil(total_turns / (visitors * turns))))


def measure_level(
    bot_url: str,
    token: str,
    pieces: dict[str, list[int]],
    visitors: int,
    turns: int,
    total_turns: int,
    log: Callable[[str], None] = print,
    label: str = "",
) -> dict[str, Any]:
    """One level of visitors who do not pause, to `bot_url`'s REST webhook: the load, CPU
    per turn of each piece, then every conversation's tracker checked."""
    conversations = conversations_for(visitors, turns, total_turns)
    busy_before = machine_busy_seconds()
    before = cpu_snapshot(pieces)
    result = asyncio.run(
        serving.load(
            bot_url, visitors, turns=turns, path=serving.REST_WEBHOOK, conversations=conversations
        )  # fmt: skip
    )
    after = cpu_snapshot(pieces)
    busy = machine_busy_seconds() - busy_before
    trackers = asyncio.run(read_trackers(bot_url, token, result.sent))
    check = check_conversations(result.sent, trackers)
    row = result.as_dict()
    row["cpu_ms_per_turn"] = per_turn_ms(before, after, result.answered)
    row["order"] = check.as_dict()
    row["load_average"] = os.getloadavg()
    ours = sum(after[k] - before[k] for k in after)
    row["other_cores"] = other_cores(busy, ours, result.wall_s)
    cpu = row["cpu_ms_per_turn"]
    log(
        f"  {label}{visitors:>3} visitors: {result.turns} turns, "
        f"{result.turns_per_s:.1f} turns/s, p50 {result.p50_ms:.0f} ms, p95 "
        f"{result.p95_ms:.0f} ms, p99 {result.p99_ms:.0f} ms, errors {result.errors}, "
        f"lost {check.lost}, reordered {check.reordered}, duplicated {check.duplicated}, "
        f"unanswered {check.unanswered}, unreadable {check.unreadable}; CPU ms/turn "
        + " ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        + f"; other work on the machine {row['other_cores']:.2f} core"
    )
    return row


def measure(
    bot_url: str,
    token: str,
    pieces: dict[str, list[int]],
    levels: list[int],
    turns: int,
    total_turns: int,
    log: Callable[[str], None] = print,
    label: str = "",
) -> dict[str, Any]:
    """Each level in turn on one stack, then the memory of its pieces."""
    rows = [
        measure_level(bot_url, token, pieces, v, turns, total_turns, log, label) for v in levels
    ]
    return {"load": rows, "memory_mb": memory_mb(pieces)}


def warm_up(urls: list[str], turns: int) -> None:
    """One untimed walk per guide start on each Rasa process, straight to it: first-use
    costs are not counted, whichever process HAProxy picks later."""
    for url in urls:
        asyncio.run(serving.load(url, len(serving.STARTS), turns=turns, path=serving.REST_WEBHOOK))


def _settings(base: Any, data_dir: Path, **values: str) -> Any:
    from bot.settings import Settings

    # The bench makes many conversations a minute: no hand-off here, but no limit to hit.
    return Settings({**base.values, "DATA_DIR": str(data_dir), **values})


@dataclass
class Running:
    """One started stack, as the measurements see it."""

    name: str
    rasa_processes: int
    bot_url: str
    rasa_urls: list[str]
    token: str
    pieces: dict[str, list[int]]
    start_s: float


def run(
    base_settings: Any,
    workdir: Path,
    levels: list[int],
    turns: int,
    total_turns: int,
    processes: list[int],
    embedded: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The embedded stack (unless `embedded` is False) and a scaled stack with each number of
    Rasa processes in `processes`, all started, then measured in turns, level by level
    (embedded, 1, 2 at 10 visitors, then at 50): whatever else the machine does meanwhile
    falls on every stack alike rather than on the one measured last. A stack that waits
    costs only HAProxy's health checks, once a second."""
    from bot.scaled import ScaledStack
    from bot.stack import Stack, free_port

    load_before = os.getloadavg()  # how busy the machine was before (other work on it)
    log("Scaled serving (REST webhook, visitors not pausing)")
    stacks: list[Running] = []
    with contextlib.ExitStack() as cleanup:
        if embedded:
            settings = _settings(base_settings, workdir / "embedded", DATABASE_URL="sqlite",
                                 REDIS_URL="none")  # fmt: skip
            started = time.perf_counter()
            stack = Stack(settings, bot_port=free_port(), actions_port=free_port(),
                          with_web=False, quiet=True)  # fmt: skip
            cleanup.callback(stack.stop)
            stack.start()
            seconds = time.perf_counter() - started
            stacks.append(Running("embedded", 1, stack.bot_url, [stack.bot_url], stack.token,
                                  embedded_pieces(stack), seconds))  # fmt: skip
        for n in processes:
            settings = _settings(base_settings, workdir / f"scaled-{n}")
            started = time.perf_counter()
            scaled = ScaledStack(settings, rasa_processes=n, web_processes=1, quiet=True,
                                 bot_port=free_port(), web_port=free_port(),
                                 throwaway=True)  # fmt: skip
            cleanup.callback(scaled.stop)
            scaled.start()
            stacks.append(Running(f"scaled-{n}", n, scaled.bot_url, [s.url for s in scaled.rasa],
                                  scaled.token, scaled_pieces(scaled),
                                  time.perf_counter() - started))  # fmt: skip
        log("  started: " + ", ".join(f"{s.name} in {s.start_s:.0f} s" for s in stacks))
        for running in stacks:
            warm_up(running.rasa_urls, turns)
        rows: dict[str, list[dict[str, Any]]] = {s.name: [] for s in stacks}
        for visitors in levels:
            for running in stacks:
                rows[running.name].append(
                    measure_level(
                        running.bot_url,
                        running.token,
                        running.pieces,
                        visitors,
                        turns,
                        total_turns,
                        log,
                        f"{running.name}: ",
                    )  # fmt: skip
                )
        columns = [
            {
                "name": s.name,
                "rasa_processes": s.rasa_processes,
                "start_s": s.start_s,
                "load": rows[s.name],
                "memory_mb": memory_mb(s.pieces),
            }  # fmt: skip
            for s in stacks
        ]
    return {"turns_per_conversation": turns, "levels": levels, "columns": columns,
            "cores": os.cpu_count(), "load_average_before": load_before,
            "load_average": os.getloadavg()}  # fmt: skip


# --- targets, reading of the figures, the report -------------------------------------------


def _row(column: dict[str, Any], visitors: int) -> dict[str, Any] | None:
    return next((r for r in column.get("load", []) if r["visitors"] == visitors), None)


def _column(scaled: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((c for c in scaled.get("columns", []) if c["name"] == name), None)


def speedup(scaled: dict[str, Any], visitors: int) -> float | None:
    """turns/s of 2 Rasa processes over 1, at `visitors`; None when not measured."""
    one, two = _column(scaled, "scaled-1"), _column(scaled, "scaled-2")
    a = _row(one, visitors) if one else None
    b = _row(two, visitors) if two else None
    if not a or not b or not a["turns_per_s"]:
        return None
    return float(b["turns_per_s"] / a["turns_per_s"])


def targets(scaled: dict[str, Any]) -> list[Target]:
    out = []
    top = max(scaled.get("levels") or [0])
    ratio = speedup(scaled, top)
    if ratio is not None:
        out.append(Target(f"scaled: 2 / 1 Rasa processes, turns/s at {top} visitors not pausing",
                          f"≥ {SPEEDUP:.1f}×", f"{ratio:.2f}×", ratio >= SPEEDUP))  # fmt: skip
    two = _column(scaled, "scaled-2")
    row = _row(two, 10) if two else None
    if row:
        out.append(Target("scaled: p95 at 10 visitors not pausing, 2 Rasa processes",
                          f"≤ {P95_MS_AT_10:.0f} ms", f"{row['p95_ms']:.0f} ms",
                          row["p95_ms"] <= P95_MS_AT_10))  # fmt: skip
    rows = [r for c in scaled.get("columns", []) for r in c["load"]]
    if rows:
        errors = sum(r["errors"] for r in rows)
        bad = sum(
            r["order"][k]
            for r in rows
            for k in ("lost", "reordered", "duplicated", "unanswered", "unreadable")  # fmt: skip
        )
        out.append(Target("scaled: errors, every stack and level", "0", str(errors), errors == 0))
        out.append(Target("scaled: turns lost, reordered, duplicated or unanswered", "0",
                          str(bad), bad == 0))  # fmt: skip
    return out


def cores_busy(row: dict[str, Any]) -> float:
    """Processor cores the whole run kept busy: CPU per turn over every piece × turns/s."""
    return float(sum(row["cpu_ms_per_turn"].values()) * row["turns_per_s"] / 1000)


def limits(scaled: dict[str, Any]) -> str:
    """What limits throughput and latency, read from the figures (highest level for the
    throughput, 10 visitors for the latency)."""
    cores = scaled.get("cores") or os.cpu_count() or 1
    top = max(scaled.get("levels") or [0])
    parts = []
    for column in scaled.get("columns", []):
        row = _row(column, top)
        if not row:
            continue
        cpu = row["cpu_ms_per_turn"]
        busy = cores_busy(row)
        other = row.get("other_cores", 0.0)
        rasa_core = cpu.get("rasa", 0.0) * row["turns_per_s"] / 1000 / column["rasa_processes"]
        biggest = sorted(cpu.items(), key=lambda kv: -kv[1])[:3]
        text = (
            f"{NAMES.get(column['name'], column['name'])} at {top} visitors: "
            f"{row['turns_per_s']:.1f} turns/s × {sum(cpu.values()):.1f} ms of CPU per turn "
            f"over every piece = {busy:.2f} of {cores} cores busy ("
            + ", ".join(f"{k} {v:.1f} ms" for k, v in biggest)
            + f"), other programs {other:.2f}; each Rasa process used {rasa_core:.2f} core"
        )
        if busy + other >= 0.85 * cores:
            text += ": the machine's processors are full."
        elif rasa_core >= 0.85:
            text += ": the Rasa process is the bottleneck (one core each)."
        else:
            text += ": neither the cores nor a Rasa process are full, so turns wait elsewhere."
        parts.append(text)
    ratio = speedup(scaled, top)
    one = _row(_column(scaled, "scaled-1") or {}, top)
    if ratio is not None and one:
        busy_one = cores_busy(one) + one.get("other_cores", 0.0)
        ceiling = cores / busy_one if busy_one else 0.0
        parts.append(
            f"So the most a second process can add on this machine is what one process leaves "
            f"idle: {cores} / {busy_one:.2f} = {ceiling:.2f}× at the same CPU per turn; "
            f"measured {ratio:.2f}×. The Rasa processes share the cores with PostgreSQL, Redis, "
            "HAProxy and the load generator; on machines of their own (README, scaling out) "
            "that ceiling goes."
        )
        two_top = _row(_column(scaled, "scaled-2") or {}, top) or {}
        failed = one["errors"] + two_top.get("errors", 0)
        if failed:
            parts.append(
                f"But {failed} turns failed at {top} visitors (1 process: {one['errors']}, "
                f"2 processes: {two_top.get('errors', 0)}): turns/s counts answered turns "
                "only, and the ratio is no fair comparison until the errors are gone."
            )
    two = _column(scaled, "scaled-2")
    row = _row(two, 10) if two else None
    if row and row["turns_per_s"]:
        cpu_ms = sum(row["cpu_ms_per_turn"].values())
        most = cores * 1000 / cpu_ms if cpu_ms else 0.0
        needed = 10 / (P95_MS_AT_10 / 1000)
        parts.append(
            f"Latency: 10 visitors who never pause keep 10 turns in the system, so a turn "
            f"waits on average 10 / {row['turns_per_s']:.1f} turns/s = "
            f"{10000 / row['turns_per_s']:.0f} ms (Little's law; p50 measured "
            f"{row['p50_ms']:.0f} ms). A p95 of {P95_MS_AT_10:.0f} ms needs more than 10 / "
            f"{P95_MS_AT_10 / 1000:.2f} s = {needed:.0f} turns/s, while {cores} cores at "
            f"{cpu_ms:.1f} ms of CPU per turn serve at most {most:.0f}: this load is "
            + (
                "beyond the machine, whatever the number of processes."
                if needed > most
                else (
                    "at the edge of the machine: it would need both cores busy all the time "
                    "(more than 80 %), where waiting in the queue grows faster than the "
                    "throughput; a cheaper turn, or Rasa processes on machines of their own, "
                    "is what reaches it."
                )
                if needed > 0.8 * most
                else "within the machine's reach."
            )  # fmt: skip
        )
    worst = max(
        (r.get("other_cores", 0.0) for c in scaled.get("columns", []) for r in c["load"]),
        default=0.0,
    )
    if worst > 0.2:
        parts.append(
            f"The machine was not quiet: other programs kept up to {worst:.2f} core busy "
            "during a measurement (row above), so these figures are lower than a quiet "
            "machine's."
        )
    return " ".join(parts)


NAMES = {"embedded": "embedded", "scaled-1": "scaled, 1 process", "scaled-2": "scaled, 2 processes"}


def markdown(scaled: dict[str, Any]) -> list[str]:
    columns = scaled.get("columns", [])
    if not columns:
        return []
    heads = [NAMES.get(c["name"], c["name"]) for c in columns]
    lines = [
        "## Scaled serving",
        "",
        "The same walks as above, sent to Rasa's REST webhook by visitors who do not pause "
        f"({scaled['turns_per_conversation']} turns per conversation, each visitor walking "
        "conversations one after the other up to a fixed number of turns), on three stacks "
        "started side by side and measured in turns, level by level (so that other work on "
        "the machine falls on each alike): *embedded* (`make run`'s Rasa and action server, SQLite "
        "tracker store, the load straight to Rasa), and `bot.scaled.ScaledStack` with 1 then 2 "
        "Rasa processes, each with its action server, PostgreSQL, Redis (conversations and "
        "lock store) and HAProxy routing each conversation to one process (the load to "
        "HAProxy). Afterwards every conversation's tracker is read back through the same "
        "front and compared with what was sent (a turn that got an error and never reached Rasa "
        "counts as lost too). CPU: processor time per turn of each piece "
        "and its child processes (/proc), the load generator being this process. Memory: "
        "proportional set size after the load (PostgreSQL's shared memory counted once).",
        "",
        "| | " + " | ".join(heads) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]

    def cells(fn: Callable[[dict[str, Any]], str]) -> str:
        return " | ".join(fn(c) for c in columns) + " |"

    def at(visitors: int, fn: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any]], str]:
        def cell(column: dict[str, Any]) -> str:
            row = _row(column, visitors)
            return fn(row) if row else "—"

        return cell

    for visitors in scaled.get("levels", []):
        lines += [
            f"| **{visitors} visitors** turns | " + cells(at(visitors, lambda r: str(r["turns"]))),
            "| turns/s | " + cells(at(visitors, lambda r: f"{r['turns_per_s']:.1f}")),
            "| p50 / p95 / p99 (ms) | "
            + cells(
                at(visitors, lambda r: f"{r['p50_ms']:.0f} / {r['p95_ms']:.0f} / {r['p99_ms']:.0f}")
            ),
            "| errors | " + cells(at(visitors, lambda r: str(r["errors"]))),
            "| lost / reordered / duplicated / unanswered | "
            + cells(
                at(
                    visitors,
                    lambda r: "{lost} / {reordered} / {duplicated} / {unanswered}".format(
                        **r["order"]
                    ),
                )
            ),
        ]
        for piece in PIECES:
            if any(piece in (_row(c, visitors) or {}).get("cpu_ms_per_turn", {}) for c in columns):
                lines.append(f"| CPU ms/turn {piece} | " + cells(at(visitors, _cpu_cell(piece))))
        lines.append(
            "| other programs on the machine (cores) | "
            + cells(at(visitors, lambda r: _fmt(r.get("other_cores"), 2)))
        )
        lines.append(
            "| CPU ms/turn, all pieces (cores busy) | "
            + cells(
                at(
                    visitors,
                    lambda r: f"{sum(r['cpu_ms_per_turn'].values()):.1f} ({cores_busy(r):.2f})",
                )
            )
        )
    for piece in PIECES:
        if any(piece in c.get("memory_mb", {}) for c in columns):
            lines.append(f"| memory MB {piece} | " + cells(_memory_cell(piece)))
    lines.append(
        "| memory MB, all pieces | " + cells(lambda c: f"{sum(c['memory_mb'].values()):.0f}")
    )
    lines.append("| start (s) | " + cells(lambda c: f"{c['start_s']:.0f}"))
    lines += [""]
    before, after = scaled.get("load_average_before"), scaled.get("load_average")
    if before and after:
        lines += [
            f"Load average (1, 5, 15 min) before the first stack started: "
            f"{before[0]:.2f} {before[1]:.2f} {before[2]:.2f}; at the end: {after[0]:.2f} "
            f"{after[1]:.2f} {after[2]:.2f} ({scaled.get('cores')} cores).",
            "",
        ]
    text = limits(scaled)
    if text:
        lines += [f"**What limits it.** {text}", ""]
    return lines


def _cpu_cell(piece: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: _fmt(row["cpu_ms_per_turn"].get(piece))


def _memory_cell(piece: str) -> Callable[[dict[str, Any]], str]:
    return lambda column: _fmt(column["memory_mb"].get(piece), 0)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
