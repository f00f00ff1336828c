"""Serving benchmark: visitors walking guides through the chat API, under load.

`load()` is an asyncio load generator, bounded in visitors, turns and time, that only talks
to a loopback address. Each simulated visitor starts a guide with typed words and walks it
for 8 turns with buttons and typed words, through `/api/chat` on the web app: the path the
kiosk and the widget take (web app -> Rasa REST channel -> action server, SQL tracker store).

`start_make_run()` starts the servers with `make run` itself, as a person would, and times
the first answer. `peak_rss()` reads the peak resident memory of each server process from
/proc. `breakdown()` runs turns inside one process with timers around Rasa's NLU, policy,
action call and tracker store, so that we know where the time of a turn goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.client import route_of

# Bounds: the generator refuses more than this, whatever it is asked.
MAX_VISITORS = 200
MAX_TURNS = 20
MAX_SECONDS = 300.0
MAX_CONVERSATIONS = 20  # conversations one visitor walks one after the other
TURN_TIMEOUT = 10.0

# Where the load goes: the web app's chat API (what the kiosk and the widget call), or
# Rasa's REST channel itself (straight to a Rasa process, or through HAProxy).
WEB_CHAT = "/api/chat"
REST_WEBHOOK = "/webhooks/rest/webhook"
# What bot/channels.py answers when Rasa could not (tests/test_bench.py keeps them equal):
# a reply with text, but a failed turn all the same.
NO_ANSWER_REPLY = (
    "Le service redémarre et n'a pas pu vous répondre. Réessayez dans quelques secondes. "
    "Si cela continue, demandez de l'aide à l'accueil."
)

NEXT, PREVIOUS, REPEAT, DETAIL = "/next_step", "/previous_step", "/repeat_step", "/step_detail"

# First messages, typed the way visitors type (no accents, a few words); each starts a guide.
STARTS = (
    "je dois declarer mes impots",
    "comment m inscrire a france travail",
    "je veux faire un cv",
    "jai recu un sms bizarre pour un colis",
    "actualisation pole emploi",
    "creer une adresse mail",
)

# The 7 turns after the first: (message, a guide marker expected in the reply).
WALK: tuple[tuple[str, bool], ...] = (
    (NEXT, True),
    ("suivant", True),
    (REPEAT, True),
    ("c est quoi ca", False),
    (PREVIOUS, True),
    ("etape suivante", True),
    (DETAIL, False),
)


@dataclass
class Turn:
    visitor: int
    index: int
    seconds: float
    ok: bool
    expected: bool  # the reply went where the script expected (a guide step)
    error: str = ""
    sender: str = ""
    message: str = ""


@dataclass
class LoadResult:
    visitors: int
    turns_per_visitor: int
    think_s: float
    turns: int
    errors: int
    unexpected: int
    wall_s: float
    turns_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    error_samples: list[str] = field(default_factory=list)
    path: str = WEB_CHAT
    conversations: int = 1  # per visitor, each `turns_per_visitor` turns
    answered: int = 0  # turns with a real answer (turns_per_s counts these)
    # What each conversation sent, in order (for the tracker check); not in the report.
    sent: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["sent"]
        return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the load generator only talks to a loopback address, not {host!r}")


def script(visitor: int, turns: int) -> list[tuple[str, bool]]:
    """The messages of one visitor: a typed start, then the walk (repeated if longer)."""
    steps = [(STARTS[visitor % len(STARTS)], True)]
    while len(steps) < turns:
        steps.extend(WALK)
    return steps[:turns]


async def _visitor(
    post: Callable[[str, str], Awaitable[tuple[int, Any]]],
    visitor: int,
    turns: int,
    think_s: float,
    rng: random.Random,
    out: list[Turn],
    conversations: int = 1,
    stride: int = 1,
) -> None:
    """One visitor: `conversations` walks one after the other, each with a new sender
    (the next one starts another guide: visitor + stride)."""
    for conversation in range(conversations):
        sender = f"bench-{visitor:03d}-{uuid.uuid4().hex[:12]}"
        for index, (message, wants_guide) in enumerate(
            script(visitor + conversation * stride, turns)
        ):
            if think_s:  # reading time; before the first turn: arrivals spread out
                await asyncio.sleep(rng.uniform(0, 2 * think_s))
            start = time.perf_counter()
            try:
                status, body = await post(sender, message)
            except Exception as exc:  # noqa: BLE001 (every failure is an error of the run)
                out.append(Turn(visitor, index, time.perf_counter() - start, False, False,
                                f"{type(exc).__name__}: {exc}"[:200], sender, message))  # fmt: skip
                continue
            seconds = time.perf_counter() - start
            ok, error = answered(status, body)
            route = route_of(body) if ok else "none"
            guide = route not in {"none", "fallback", "handoff", "menu"}
            expected = ok and (guide or not wants_guide)
            out.append(Turn(visitor, index, seconds, ok, expected, error, sender, message))


def answered(status: int, body: Any) -> tuple[bool, str]:
    """Whether one turn got a real answer, and the error if not. The REST channel answers
    200 with an apology when Rasa failed: that is an error too."""
    if (
        status != 200
        or not isinstance(body, list)
        or not any(isinstance(m, dict) and m.get("text") for m in body)
    ):
        return False, f"HTTP {status}: {str(body)[:160]}"
    if any(isinstance(m, dict) and m.get("text") == NO_ANSWER_REPLY for m in body):
        return False, "HTTP 200: the channel's apology (Rasa did not answer)"
    return True, ""


async def load(
    base_url: str,
    visitors: int,
    turns: int = 8,
    think_s: float = 0.0,
    seed: int = 7,
    max_seconds: float = MAX_SECONDS,
    path: str = WEB_CHAT,
    conversations: int = 1,
) -> LoadResult:
    """`visitors` concurrent visitors, each walking `conversations` x `turns` turns through
    the web app's /api/chat or Rasa's REST webhook (`path`)."""
    import httpx

    require_loopback(base_url)
    if not 1 <= visitors <= MAX_VISITORS or not 1 <= turns <= MAX_TURNS:
        raise ValueError(f"at most {MAX_VISITORS} visitors and {MAX_TURNS} turns")
    if not 1 <= conversations <= MAX_CONVERSATIONS or path not in (WEB_CHAT, REST_WEBHOOK):
        raise ValueError(f"at most {MAX_CONVERSATIONS} conversations, to {WEB_CHAT} or "
                         f"{REST_WEBHOOK}")  # fmt: skip
    limits = httpx.Limits(max_connections=visitors, max_keepalive_connections=visitors)
    out: list[Turn] = []
    async with httpx.AsyncClient(
        base_url=base_url, timeout=TURN_TIMEOUT, limits=limits, trust_env=False
    ) as client:

        async def post(sender: str, message: str) -> tuple[int, Any]:
            body: dict[str, Any] = {"sender": sender, "message": message}
            if path == WEB_CHAT:
                body["channel"] = "kiosk"
            else:  # what the web app adds when it relays a kiosk's message
                body["metadata"] = {"channel": "kiosk"}
            response = await client.post(path, json=body)
            try:
                return response.status_code, response.json()
            except ValueError:
                return response.status_code, response.text

        rng = random.Random(seed)
        start = time.perf_counter()
        tasks = [
            asyncio.create_task(
                _visitor(
                    post,
                    v,
                    turns,
                    think_s,
                    random.Random(rng.random()),
                    out,
                    conversations,
                    stride=visitors,
                )  # fmt: skip
            )
            for v in range(visitors)
        ]
        _, pending = await asyncio.wait(tasks, timeout=max_seconds)
        for task in pending:
            task.cancel()
        wall = time.perf_counter() - start
    missing = visitors * conversations * turns - len(out)  # never sent: time bound hit
    latencies = [t.seconds * 1000 for t in out if t.ok] or [0.0]
    errors = [t for t in out if not t.ok]
    return LoadResult(
        visitors=visitors,
        turns_per_visitor=turns,
        think_s=think_s,
        turns=len(out),
        errors=len(errors) + missing,
        unexpected=sum(1 for t in out if t.ok and not t.expected),
        wall_s=wall,
        # answered turns only: a fast error (a 503 from HAProxy) is no throughput
        turns_per_s=(len(out) - len(errors)) / wall if wall else 0.0,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies),
        error_samples=sorted({t.error for t in errors})[:5],
        path=path,
        conversations=conversations,
        answered=len(out) - len(errors),
        sent=sent_by_conversation(out),
    )


def sent_by_conversation(turns: list[Turn]) -> dict[str, list[str]]:
    """What each conversation sent, in the order sent (a visitor waits for each answer)."""
    sent: dict[str, list[str]] = {}
    for turn in sorted(turns, key=lambda t: (t.sender, t.index)):
        sent.setdefault(turn.sender, []).append(turn.message)
    return sent


# --- the servers, as `make run` starts them ------------------------------------------------


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    web_url: str
    first_answer_s: float

    def pids(self) -> dict[str, list[int]]:
        """The server processes under `make run`, by role (rasa, actions, web)."""
        roles: dict[str, list[int]] = {"rasa": [], "actions": [], "web": []}
        for pid in descendants(self.process.pid):
            cmdline = _cmdline(pid)
            if "rasa_sdk" in cmdline or "bot.action_server" in cmdline:
                roles["actions"].append(pid)
            elif "bot.web" in cmdline:
                roles["web"].append(pid)
            elif " run " in f" {cmdline} " and "rasa" in cmdline:
                roles["rasa"].append(pid)
        return roles

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree(roots: Iterable[int], children: dict[int, list[int]] | None = None) -> list[int]:
    """The roots and every process under them."""
    children = children_map() if children is None else children
    out: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def descendants(root: int) -> list[int]:
    """Every process under `root`, not `root` itself."""
    return [pid for pid in tree([root]) if pid != root]


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of one process, in MB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss(stack: RunningStack) -> dict[str, float]:
    return {role: sum(peak_rss_mb(p) for p in pids) for role, pids in stack.pids().items()}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) one process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_role(stack: RunningStack) -> dict[str, float]:
    return {role: sum(cpu_seconds(p) for p in pids) for role, pids in stack.pids().items()}


def _post_json(url: str, body: dict[str, Any], timeout: float = 5.0) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (loopback)
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def start_make_run(root: Path, env: dict[str, str], web_url: str, timeout: float = 240.0,
                   log: Path | None = None) -> RunningStack:  # fmt: skip
    """`make run` in its own process group; returns once /api/chat has answered."""
    require_loopback(web_url)
    env = {k: v for k, v in env.items() if not k.startswith("MAKE") and k != "MFLAGS"}
    out = log.open("ab") if log else subprocess.DEVNULL
    start = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 (our own Makefile)
        ["make", "--no-print-directory", "run"], cwd=root, env=env, stdout=out,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    stack = RunningStack(process, web_url, 0.0)
    sender = f"bench-first-{uuid.uuid4().hex[:12]}"
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"make run stopped (exit {process.returncode}); see {log}")
        with contextlib.suppress(OSError):
            status, body = _post_json(
                f"{web_url}/api/chat", {"sender": sender, "message": "bonjour"}
            )
            if status == 200 and isinstance(body, list) and body:
                stack.first_answer_s = time.perf_counter() - start
                return stack
        time.sleep(0.1)
    stack.stop()
    raise TimeoutError(f"no answer from {web_url} {timeout:.0f} s after make run")


# --- where the time of one turn goes -------------------------------------------------------


@dataclass
class Breakdown:
    turns: int
    total_ms: float
    parts_ms: dict[str, float]
    calls: dict[str, int]
    # CPU time of this process per turn, typed messages and button payloads apart
    cpu_ms_typed: float = 0.0
    cpu_ms_button: float = 0.0
    typed_turns: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def _timers(totals: dict[str, float], calls: dict[str, int], store: Any) -> Iterator[None]:
    """Wrap Rasa's NLU, policy and remote action calls, and the tracker store's reads and
    writes, with timers."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor

    targets: list[tuple[type, str, str, bool]] = [
        (MessageProcessor, "parse_message", "nlu", True),
        (MessageProcessor, "_predict_next_with_tracker", "policy", False),
        (RemoteAction, "run", "action_call", True),
    ]
    originals = [(cls, name, cls.__dict__[name]) for cls, name, _, _ in targets]

    def timed(fn: Any, part: str, is_async: bool) -> Any:
        if is_async:

            async def wrapper_async(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    totals[part] = totals.get(part, 0.0) + time.perf_counter() - start
                    calls[part] = calls.get(part, 0) + 1

            return wrapper_async

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[part] = totals.get(part, 0.0) + time.perf_counter() - start
                calls[part] = calls.get(part, 0) + 1

        return wrapper

    try:
        for cls, name, part, is_async in targets:
            setattr(cls, name, timed(cls.__dict__[name], part, is_async))
        for name in ("retrieve", "save"):  # on the instance: whatever its class
            setattr(store, name, timed(getattr(store, name), "tracker_store", True))
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)
        for name in ("retrieve", "save"):
            store.__dict__.pop(name, None)


def quiet_rasa_logs() -> None:
    """Warnings only, as `make run` does with LOG_LEVEL=WARNING (--quiet)."""
    import logging

    from rasa.utils.log_utils import configure_structlog

    logging.getLogger("rasa").setLevel(logging.WARNING)
    configure_structlog(logging.WARNING)


def breakdown(model: Path, actions_url: str, tracker_db: Path, visitors: int = 3,
              turns: int = 8, secret: str = "") -> Breakdown:  # fmt: skip
    """Run `visitors` x `turns` turns one after the other inside this process, with the same
    model, a running action server (its shared secret: `secret` or ACTIONS_SECRET) and a
    SQL tracker store, and time each part."""
    secret = secret or os.environ.get("ACTIONS_SECRET", "")
    return asyncio.run(_breakdown(model, actions_url, tracker_db, visitors, turns, secret))


async def _breakdown(model: Path, actions_url: str, tracker_db: Path, visitors: int,
                     turns: int, secret: str) -> Breakdown:  # fmt: skip
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.utils.endpoints import EndpointConfig

    from bot import rasa_speedups
    from bot.stack import SECRET_HEADER
    from bot.tracker_store import SQLiteTrackerStore

    require_loopback(actions_url)
    quiet_rasa_logs()
    rasa_speedups.apply()  # as the server does when it loads the REST channel
    store = SQLiteTrackerStore(db=str(tracker_db))
    agent = Agent.load(
        str(model),
        tracker_store=store,
        action_endpoint=EndpointConfig(f"{actions_url}/webhook", headers={SECRET_HEADER: secret}),
    )
    # First message of a process pays one-time costs (graph warm-up); not counted.
    await agent.handle_message(UserMessage("bonjour", CollectingOutputChannel(), "bench-warm"))
    totals: dict[str, float] = {}
    calls: dict[str, int] = {}
    elapsed = 0.0
    cpu_s = {"typed": 0.0, "button": 0.0}
    count = {"typed": 0, "button": 0}
    with _timers(totals, calls, store):
        for visitor in range(visitors):
            sender = f"bench-breakdown-{visitor}-{uuid.uuid4().hex[:8]}"
            for message, _ in script(visitor, turns):
                start = time.perf_counter()
                cpu = time.process_time()
                await agent.handle_message(
                    UserMessage(
                        message, CollectingOutputChannel(), sender, metadata={"channel": "kiosk"}
                    )  # fmt: skip
                )
                elapsed += time.perf_counter() - start
                kind = "button" if message.startswith("/") else "typed"
                cpu_s[kind] += time.process_time() - cpu
                count[kind] += 1
    await rasa_speedups.close_kept_sessions()
    n = visitors * turns
    parts = {part: seconds * 1000 / n for part, seconds in totals.items()}
    parts["other (events, rules, lock, serialisation)"] = max(
        0.0, elapsed * 1000 / n - sum(parts.values())
    )
    return Breakdown(
        n,
        elapsed * 1000 / n,
        parts,
        calls,
        cpu_ms_typed=cpu_s["typed"] * 1000 / max(1, count["typed"]),
        cpu_ms_button=cpu_s["button"] * 1000 / max(1, count["button"]),
        typed_turns=count["typed"],
    )
