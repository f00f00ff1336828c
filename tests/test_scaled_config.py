"""HAProxy's configuration for the scaled stack, fast: rendering, `haproxy -c`, and routing
checked with stand-in backends (small HTTP servers in this process) instead of Rasa.

What a Rasa process does is tested end to end in tests/test_scaled.py; here, what HAProxy
does with the configuration bot/scaled.py writes: one conversation always meets one
backend, and a backend that dies or closes a connection without answering costs the
client no error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from bot.scaled import backend_states, check_config, compose_haproxy_config, haproxy_config
from bot.settings import ROOT
from bot.stack import free_port

DEPLOY = ROOT / "deploy"

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
    reason="haproxy is not installed (make setup installs the Debian package)",
)


def render(tmp_path: Path, rasa: int = 2, web: int = 1) -> tuple[Path, dict[str, int]]:
    ports = {"bot": free_port(), "web": free_port(), "stats": free_port()}
    text = haproxy_config(
        bot_bind=f"127.0.0.1:{ports['bot']}",
        web_bind=f"127.0.0.1:{ports['web']}",
        stats_bind=f"127.0.0.1:{ports['stats']}",
        rasa=[(f"rasa-{i}", f"127.0.0.1:{free_port()}") for i in range(rasa)],
        web=[(f"web-{i}", f"127.0.0.1:{free_port()}") for i in range(web)],
    )
    path = tmp_path / "haproxy.cfg"
    path.write_text(text, encoding="utf-8")
    return path, ports


@pytest.mark.parametrize(("rasa", "web"), [(1, 1), (2, 2), (4, 3)])
def test_the_rendered_configuration_passes_haproxy_check(tmp_path: Path, rasa: int, web: int):
    path, _ = render(tmp_path, rasa, web)
    assert "Configuration file is valid" in check_config(path)
    text = path.read_text()
    assert text.count("server rasa-") == rasa and text.count("server web-") == web
    # The routing rules the design depends on.
    for line in (
        "option http-buffer-request",
        "balance hash var(txn.sender)",
        "hash-type consistent",
        "retry-on conn-failure empty-response response-timeout",
        "option redispatch",
        "inter 1s fall 2 rise 2",
    ):
        assert line in text, line


def test_a_broken_configuration_is_refused_with_haproxys_words(tmp_path: Path):
    path, _ = render(tmp_path)
    path.write_text(path.read_text().replace("balance hash", "balance nonsense"))
    with pytest.raises(ValueError, match="haproxy refuses"):
        check_config(path)


def test_the_compose_example_is_what_the_code_renders_and_haproxy_accepts(tmp_path: Path):
    example = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    assert example == compose_haproxy_config(), "regenerate: python -m bot.scaled example-config"
    # Container names do not resolve here: init-addr lets HAProxy start without them.
    copy = tmp_path / "haproxy.cfg"
    copy.write_text(example)
    assert "Configuration file is valid" in check_config(copy)


def test_compose_names_real_modules_and_files():
    import importlib.util
    import shlex

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "redis", "haproxy"} <= set(services)
    webs = sorted(n for n in services if n.startswith("web-"))
    assert webs
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    redis_command = services["redis"]["command"]  # nothing on disk: no snapshot, no AOF
    assert redis_command[redis_command.index("--save") + 1] == ""
    assert redis_command[redis_command.index("--appendonly") + 1] == "no"
    assert services["haproxy"]["image"].startswith("haproxy:2.6")
    mounted = [v.split(":")[0] for v in services["haproxy"]["volumes"]]
    assert "./haproxy.cfg" in mounted
    rasa = sorted(n for n in services if n.startswith("rasa-"))
    actions = sorted(n for n in services if n.startswith("actions-"))
    assert len(rasa) >= 2 and [n.replace("rasa", "actions") for n in rasa] == actions
    cfg = (DEPLOY / "haproxy.cfg").read_text()
    for name in rasa:
        assert f"server {name} {name}:5005 check" in cfg, name
    for name in webs:  # in HAProxy's network namespace, on its loopback
        assert services[name]["network_mode"] == "service:haproxy"
        port = services[name]["environment"]["WEB_PORT"]
        assert f"server {name} 127.0.0.1:{port} check" in cfg, name
        assert services[name]["environment"]["BOT_PORT"] == "5005"
    for name in rasa + actions + webs:
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile" or service.get("image")
        command = service["command"]
        args = shlex.split(command) if isinstance(command, str) else list(command)
        assert args[:2] == ["python", "-m"], name
        spec = importlib.util.find_spec(args[2])
        assert spec is not None and spec.origin is not None, args[2]
        assert Path(spec.origin).resolve().is_relative_to(ROOT)
        for flag in ("--endpoints", "--credentials"):
            if flag in args:
                assert (ROOT / args[args.index(flag) + 1]).is_file(), flag
        if "--model" in args:
            assert args[args.index("--model") + 1] == "models/guichet.tar.gz"
        assert "SECRET" not in " ".join(args) and "--auth-token" not in args
        env = service.get("environment", {})
        if name.startswith("rasa-"):
            pair = name.replace("rasa", "actions")
            assert env["ACTION_ENDPOINT_URL"] == f"http://{pair}:5055/webhook"
            assert str(env["SANIC_WORKERS"]) == "1"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "FROM python:3.10-slim" in dockerfile and "uv sync --frozen" in dockerfile


# --- routing, with stand-ins -----------------------------------------------------------------


class Backend:
    """A stand-in for one Rasa process: answers the health check and says who it is.
    `close_next` makes it drop the next message's connection without an answer (what a
    process killed mid-request looks like)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.close_next = threading.Event()
        self.seen: list[str] = []
        # > 0: serve one request at a time, each message taking this long, the health
        # check waiting its turn too: a Rasa process busy with NLU on its event loop.
        self.turn_seconds = 0.0
        self.busy = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _answer(self, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if backend.turn_seconds:
                    with backend.busy:
                        pass
                self._answer({"status": "ok", "backend": backend.name})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                sender = json.loads(self.rfile.read(length) or b"{}").get("sender", "")
                if backend.close_next.is_set():
                    backend.close_next.clear()
                    self.close_connection = True
                    self.connection.close()
                    return
                backend.seen.append(sender)
                if backend.turn_seconds:
                    with backend.busy:
                        time.sleep(backend.turn_seconds)
                self._answer({"backend": backend.name, "sender": sender})

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # accept every waiting connection, as Sanic does

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def routed(tmp_path: Path) -> Iterator[tuple[str, str, list[Backend]]]:
    backends = [Backend("rasa-0"), Backend("rasa-1")]
    web = Backend("web-0")
    bot_port, web_port, stats_port = free_port(), free_port(), free_port()
    path = tmp_path / "haproxy.cfg"
    path.write_text(
        haproxy_config(
            bot_bind=f"127.0.0.1:{bot_port}",
            web_bind=f"127.0.0.1:{web_port}",
            stats_bind=f"127.0.0.1:{stats_port}",
            rasa=[(b.name, f"127.0.0.1:{b.port}") for b in backends],
            web=[("web-0", f"127.0.0.1:{web.port}")],
        )
    )
    check_config(path)
    proc = subprocess.Popen(  # noqa: S603
        ["haproxy", "-db", "-f", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stats = f"http://127.0.0.1:{stats_port}/"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = backend_states(stats)
            if states.get("rasa") == {"rasa-0": "UP", "rasa-1": "UP"}:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"HAProxy did not see the stand-ins up: {backend_states(stats)}")
        yield f"http://127.0.0.1:{bot_port}", stats, backends
    finally:
        proc.terminate()
        proc.wait(10)
        for b in [*backends, web]:
            b.stop()


def post(url: str, sender: str) -> dict[str, str]:
    body = json.dumps({"sender": sender, "message": "bonjour"}).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 (loopback)
        assert resp.status == 200
        return dict(json.loads(resp.read()))


def test_one_conversation_always_meets_the_same_process(routed):
    url, _, backends = routed
    senders = [f"visiteur-{i}" for i in range(30)]
    first = {s: post(url, s)["backend"] for s in senders}
    for _ in range(3):
        for s in senders:
            assert post(url, s)["backend"] == first[s], s
    # Both processes get conversations: the hash spreads them.
    assert set(first.values()) == {"rasa-0", "rasa-1"}
    # Rasa's HTTP API for one conversation meets the process that holds it.
    for s in senders[:10]:
        quoted = urllib.parse.quote(s, safe="")
        with urllib.request.urlopen(f"{url}/conversations/{quoted}/tracker", timeout=10) as r:  # noqa: S310
            assert json.loads(r.read())["backend"] == first[s]


def test_a_dead_process_costs_no_error_and_moves_only_its_conversations(routed):
    url, stats, backends = routed
    senders = [f"visiteur-{i}" for i in range(30)]
    first = {s: post(url, s)["backend"] for s in senders}
    backends[0].stop()  # connection refused from now on, before the checks notice
    after = {s: post(url, s)["backend"] for s in senders}  # no error raised
    assert set(after.values()) == {"rasa-1"}
    # Consistent hashing: the survivor's conversations stayed where they were.
    assert all(after[s] == "rasa-1" for s in senders if first[s] == "rasa-1")
    deadline = time.monotonic() + 10
    while backend_states(stats)["rasa"]["rasa-0"] != "DOWN" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert backend_states(stats)["rasa"]["rasa-0"] == "DOWN"


def test_a_connection_closed_without_an_answer_is_retried(routed):
    url, _, backends = routed
    sender = next(s for s in (f"v{i}" for i in range(100)) if post(url, s)["backend"] == "rasa-0")
    backends[0].close_next.set()
    answer = post(url, sender)  # rasa-0 drops it: HAProxy tries again, no error
    assert answer["sender"] == sender
    assert not backends[0].close_next.is_set()  # the drop did happen


def test_a_busy_process_stays_in_service_and_keeps_its_conversations(routed):
    """120 messages at once on processes that serve one turn at a time: HAProxy queues
    them itself (maxconn), so a health check never waits behind the whole queue and no
    living process is taken out (before, 503 for every visitor: make bench)."""
    url, stats, backends = routed
    senders = [f"visiteur-{i}" for i in range(30)]
    first = {s: post(url, s)["backend"] for s in senders}
    for backend in backends:
        backend.turn_seconds = 0.1
    with ThreadPoolExecutor(max_workers=120) as pool:
        answers = list(pool.map(lambda s: post(url, s), senders * 4))
    # Every message answered, each by the process that holds its conversation.
    assert [a["backend"] for a in answers] == [first[s] for s in senders * 4]
    assert backend_states(stats)["rasa"] == {"rasa-0": "UP", "rasa-1": "UP"}
