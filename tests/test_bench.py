"""The benchmark's code paths on tiny inputs, so that `make bench` does not rot.

No timing is asserted here: `make bench` measures, these tests check that what it measures
is computed right and that every path (datasets, the three systems, the load generator, the
cost breakdown, memory and CPU readings, the report) runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.bench import datasets, report, scaled, serving, understanding
from bot.bench.understanding import Prediction
from bot.settings import ROOT, get_settings
from bot.stack import MODEL_NAME


def test_percentile_nearest_rank() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert serving.percentile(values, 50) == 3.0
    assert serving.percentile(values, 95) == 5.0
    assert serving.percentile(values, 1) == 1.0
    assert serving.percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:9"])
def test_loopback_accepted(url: str) -> None:
    serving.require_loopback(url)


@pytest.mark.parametrize("url", ["http://10.0.0.1:8000", "https://example.org", "http://0.0.0.0"])
def test_anything_else_refused(url: str) -> None:
    with pytest.raises(ValueError):
        serving.require_loopback(url)
    with pytest.raises(ValueError):
        asyncio.run(serving.load(url, 1, turns=1))


def test_load_is_bounded() -> None:
    for visitors, turns in [(0, 8), (serving.MAX_VISITORS + 1, 8), (1, serving.MAX_TURNS + 1)]:
        with pytest.raises(ValueError):
            asyncio.run(serving.load("http://127.0.0.1:9", visitors, turns=turns))


def test_scripts_start_a_guide_then_walk_it() -> None:
    first = serving.script(0, 8)
    assert len(first) == 8 and first[0] == (serving.STARTS[0], True)
    assert [m for m, _ in first[1:]] == [m for m, _ in serving.WALK]
    assert serving.script(1, 20)[0][0] == serving.STARTS[1]
    assert len(serving.script(1, 20)) == 20
    assert any(m.startswith("/") for m, _ in first) and any(" " in m for m, _ in first[1:])


def test_scores_count_the_fallback_right_only_out_of_scope() -> None:
    ds = datasets.Dataset("t", "t", [("a", "x"), ("b", "y")], [], frozenset({"oos"}))
    predictions = [
        Prediction("a", "a", "a", 0.9),
        Prediction("a", "nlu_fallback", "a", 0.2),  # wrong: in scope
        Prediction("oos", "nlu_fallback", "b", 0.2),  # right: out of scope caught
        Prediction("oos", "b", "b", 0.8),  # wrong: out of scope missed
    ]
    s = understanding.score("sys", ds, predictions, train_s=1.0, infer_s=0.4)
    assert s.accuracy == 0.5
    assert s.top_accuracy == 0.5  # best intents: a, a, b, b
    assert s.oos_precision == 0.5  # 2 flagged (fallback twice), 1 truly out of scope
    assert s.oos_recall == 0.5
    assert s.infer_ms == pytest.approx(100.0)
    pairs = [("a", "a"), ("a", "b"), ("b", "b")]
    # F1(a) = 2/3, F1(b) = 2/3
    assert understanding.macro_f1(pairs) == pytest.approx(2 / 3)


def test_massive_split_takes_lines_by_numeric_id(tmp_path: Path) -> None:
    rows = [
        {"id": str(i), "intent": intent, "text": f"{intent} {i}"}
        for i, intent in [(10, "a"), (2, "a"), (9, "a"), (1, "b"), (30, "a"), (3, "b")]
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ds = datasets.massive_few_shot(path, n_train=2, n_test=1)
    assert ds.train == [("a", "a 2"), ("a", "a 9"), ("b", "b 1"), ("b", "b 3")]
    assert ds.test == [("a", "a 10")]


def test_our_split_is_fixed_and_stratified(tmp_path: Path) -> None:
    nlu = ROOT / "bot" / "data" / "nlu"
    one, two = datasets.ours(nlu), datasets.ours(nlu)
    assert one.train == two.train and one.test == two.test
    assert not set(one.train) & set(one.test)
    assert {i for i, _ in one.test} == set(one.intents)  # every intent is tested
    assert one.out_of_scope <= set(one.intents)
    sample = one.train[:40]
    datasets.write_rasa_nlu(sample, tmp_path / "nlu.yml")
    assert sorted(datasets.read_rasa_nlu(tmp_path)) == sorted(sample)


def tiny_datasets() -> list[datasets.Dataset]:
    settings = get_settings()
    return [
        datasets.ours(ROOT / "bot" / "data" / "nlu").shrink(3, 6, 2),
        datasets.massive_few_shot(
            settings.shared_dir / "bench" / "massive_fr" / "train.jsonl"
        ).shrink(3, 6, 2),
    ]


def test_three_systems_on_tiny_splits() -> None:
    rows = understanding.run(tiny_datasets(), ROOT, diet_epochs=1, log=lambda _: None)
    assert sorted((r.dataset, r.system) for r in rows) == sorted(
        (d, s) for d in ("guichet", "massive_fr") for s in ("guichet", "rasa_default", "tfidf_svm")
    )
    for r in rows:
        assert 0.0 <= r.accuracy <= 1.0 and 0.0 <= r.macro_f1 <= 1.0
        assert r.n_test > 0 and r.train_s > 0 and r.infer_ms > 0
        assert (r.oos_recall is None) == (r.dataset == "massive_fr")
        assert sorted(r.variants) == sorted(datasets.VARIANTS)
        assert all(0.0 <= v <= 1.0 for v in r.variants.values())
        # the threshold is chosen for our pipeline, on data with out-of-scope examples only
        assert (r.threshold is not None) == (r.system == "guichet" and r.dataset == "guichet")
    assert any("DIET 1 epochs" in n for r in rows for n in r.notes)


def test_threshold_is_chosen_on_the_given_predictions() -> None:
    ds = datasets.Dataset("t", "t", [], [], frozenset({"oos"}))
    held_out = [
        Prediction("a", "a", "a", 0.9),
        Prediction("a", "a", "a", 0.5),
        Prediction("oos", "b", "b", 0.3),
        Prediction("oos", "b", "b", 0.35),
    ]
    # 0.4 catches both out-of-scope messages and keeps both in-scope ones
    assert understanding.choose_threshold(ds, held_out) == 0.4
    moved = understanding.with_threshold(held_out, 0.4)
    assert [p.intent for p in moved] == ["a", "a", "nlu_fallback", "nlu_fallback"]
    assert understanding.accuracy(ds, moved) == 1.0


def test_in_guide_commands_are_scored_apart() -> None:
    ds = datasets.Dataset("t", "t", [("x", "x")], [])
    predictions = [
        Prediction("next_step", "next_step", "next_step", 0.9),
        Prediction("deny", "affirm", "affirm", 0.9),
        Prediction("cv", "cv", "cv", 0.9),
    ]
    s = understanding.score("sys", ds, predictions, 1.0, 1.0)
    assert s.commands_accuracy == 0.5 and s.accuracy == pytest.approx(2 / 3)


def test_load_breakdown_memory_and_cpu_against_the_real_servers(
    running_stack, tmp_path: Path
) -> None:
    result = asyncio.run(serving.load(running_stack.web_url, 2, turns=3))
    assert result.turns == 6 and result.errors == 0, result.error_samples
    assert result.unexpected == 0
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms
    paced = asyncio.run(serving.load(running_stack.web_url, 2, turns=2, think_s=0.05))
    assert paced.turns == 4 and paced.errors == 0 and paced.think_s == 0.05

    model = ROOT / "models" / MODEL_NAME
    b = serving.breakdown(model, running_stack.actions_url, tmp_path / "t.db", visitors=1,
                          turns=3, secret=running_stack.actions_secret)  # fmt: skip
    assert b.turns == 3
    for part in ("nlu", "policy", "action_call", "tracker_store"):
        assert b.parts_ms[part] >= 0 and b.calls[part] >= 1
    assert b.calls["nlu"] == 3  # one parse per message
    assert b.typed_turns == 2 and b.cpu_ms_typed > 0 and b.cpu_ms_button > 0
    assert (tmp_path / "t.db").exists()

    rasa = running_stack.processes["rasa"].pid
    assert serving.peak_rss_mb(rasa) > 100
    assert serving.cpu_seconds(rasa) > 0
    assert serving.peak_rss_mb(-1) == 0.0 and serving.cpu_seconds(-1) == 0.0


def test_process_tree_by_role(tmp_path: Path) -> None:
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", "import time; time.sleep(30)", "bot.web"]
    )
    try:
        assert child.pid in serving.descendants(os.getpid())
        stack = serving.RunningStack(
            subprocess.Popen(["true"]),  # noqa: S607
            "http://127.0.0.1:1",
            0.0,
        )
        stack.process.wait()
        assert stack.pids() == {"rasa": [], "actions": [], "web": []}
        assert "bot.web" in serving._cmdline(child.pid)
    finally:
        child.kill()
        child.wait()


def test_report_shows_targets_tables_and_misses() -> None:
    rows = [
        {"dataset": "guichet", "system": "guichet", "accuracy": 0.80, "macro_f1": 0.7,
         "top_accuracy": 0.8, "oos_precision": 0.5, "oos_recall": 0.6, "train_s": 2.0,
         "infer_ms": 3.0, "notes": [], "variants": {"typos": 0.7, "no_accents": 0.8},
         "commands_accuracy": 0.9, "threshold": 0.3},
        {"dataset": "guichet", "system": "tfidf_svm", "accuracy": 0.82, "macro_f1": 0.7,
         "top_accuracy": 0.82, "oos_precision": None, "oos_recall": None, "train_s": 0.1,
         "infer_ms": 1.0, "notes": ["no fallback threshold"],
         "variants": {"typos": 0.6, "no_accents": 0.82}, "commands_accuracy": 0.95,
         "threshold": None},
    ]  # fmt: skip
    load = {"visitors": 10, "turns_per_visitor": 8, "think_s": 2.0, "turns": 80, "errors": 0,
            "unexpected": 0, "wall_s": 20.0, "turns_per_s": 4.0, "p50_ms": 40.0,
            "p95_ms": 80.0, "p99_ms": 90.0, "max_ms": 95.0, "error_samples": [],
            "cpu_ms_per_turn": {"rasa": 20.0, "actions": 2.0, "web": 5.0}}  # fmt: skip
    eager = {**load, "visitors": 50, "think_s": 0.0, "turns_per_s": 35.0}
    serving_results = {"load": [load, eager], "rss_mb": {"rasa": 800.0, "actions": 60.0,
                       "web": 60.0}, "training_s": 50.0, "model_mb": 2.0,
                       "first_answer_s": 20.0}  # fmt: skip
    targets = report.understanding_targets(rows) + report.serving_targets(serving_results)
    by_name = {t.name: t for t in targets}
    assert not by_name["accuracy on guichet"].met
    assert "-2.0 points" in by_name["accuracy on guichet"].measured
    assert by_name["accuracy on guichet, typos"].met
    assert "+10.0 points" in by_name["accuracy on guichet, typos"].measured
    assert not by_name["accuracy on guichet, no accents"].met
    assert by_name["p95 per turn, 10 visitors reading"].met
    assert not by_name["throughput, 50 visitors not reading"].met
    assert by_name["peak memory, all processes"].met and by_name["errors"].met
    results = {
        "command": "make bench",
        "date": "2026-11-21 20:00 UTC",
        "duration_s": 60.0,
        "machine": report.machine(),
        "targets": [t.__dict__ for t in targets],
        "understanding": {
            "datasets": [
                {"name": "guichet", "description": "d", "n_train": 10, "n_test": 5, "n_intents": 2}
            ],  # fmt: skip
            "rows": rows,
        },
        "serving": serving_results,
    }
    text = report.markdown(results, "## Analysis\n\nWhy.")
    assert "## Targets" in text and "**missed**" in text and "| met |" in text
    assert "| 10 | 2.0 s | 80 | 40 | 80 |" in text
    assert "| MB | 800 | 60 | 60 | 920 |" in text
    assert "| Guichet (`config.yml`) | 0.800 | 0.800 | 0.700 | 0.900 |" in text
    assert text.rstrip().endswith("Why.")


def test_make_bench_end_to_end_on_tiny_inputs(tmp_path: Path) -> None:
    """`python -m bot.bench --tiny`: cold training, `make run` started for real, the loads,
    memory, CPU, the breakdown, then the JSON and the Markdown written."""
    from bot.bench.__main__ import main

    out_json, out_doc = tmp_path / "results.json", tmp_path / "benchmarks.md"
    argv = ["--only", "understanding", "serving", "--tiny", "--systems", "tfidf_svm",
            "--visitors", "2", "--paced", "2",
            "--reading-s", "0.05", "--turns", "3", "--json", str(out_json),
            "--doc", str(out_doc)]  # fmt: skip
    assert main(argv) == 0
    results = json.loads(out_json.read_text(encoding="utf-8"))
    s = results["serving"]
    assert [(r["visitors"], r["think_s"], r["turns"], r["errors"]) for r in s["load"]] == [
        (2, 0.0, 6, 0),
        (2, 0.05, 6, 0),
    ]
    assert s["first_answer_s"] > 0 and s["training_s"] > 0 and s["model_mb"] > 0
    assert set(s["rss_mb"]) == {"rasa", "actions", "web"} and all(s["rss_mb"].values())
    assert all(r["cpu_ms_per_turn"]["rasa"] > 0 for r in s["load"])
    assert s["breakdown"]["turns"] > 0
    assert [r["system"] for r in results["understanding"]["rows"]] == ["tfidf_svm"] * 2
    names = {t["name"] for t in results["targets"]}
    assert {"errors", "peak memory, all processes", "training"} <= names
    text = out_doc.read_text(encoding="utf-8")
    assert "## Serving" in text and "## Understanding" in text and "--tiny" in text
    again = tmp_path / "again.md"
    assert main(["--from-json", "--json", str(out_json), "--doc", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == text


# --- scaled serving (issue 16) -------------------------------------------------------------


def _events(*texts: str, answered: bool = True) -> list[dict[str, object]]:
    """A tracker's events: each user message followed by a bot message, with noise."""
    events: list[dict[str, object]] = [{"event": "action", "name": "action_session_start"}]
    for text in texts:
        events.append({"event": "user", "text": text})
        events.append({"event": "action", "name": "action_listen"})
        if answered:
            events.append({"event": "bot", "text": f"re: {text}"})
    return events


def test_order_check_passes_a_whole_conversation() -> None:
    check = scaled.check_order(["a", "/next_step", "b"], _events("a", "/next_step", "b"))
    assert check.clean
    assert (check.conversations, check.sent, check.seen) == (1, 3, 3)


def test_order_check_detects_a_lost_turn() -> None:
    check = scaled.check_order(["a", "b", "c"], _events("a", "c"))
    assert (check.lost, check.reordered, check.duplicated) == (1, 0, 0)
    assert not check.clean


def test_order_check_detects_a_reordered_turn() -> None:
    check = scaled.check_order(["a", "b", "c", "d"], _events("a", "c", "b", "d"))
    assert (check.lost, check.reordered, check.duplicated) == (0, 1, 0)
    assert not check.clean
    # the same message sent twice: order still told apart
    again = scaled.check_order(["x", "y", "x"], _events("x", "x", "y"))
    assert (again.lost, again.reordered) == (0, 1)


def test_order_check_detects_duplicates_unanswered_and_unreadable() -> None:
    dup = scaled.check_order(["a", "b"], _events("a", "a", "b"))
    assert (dup.lost, dup.duplicated, dup.reordered) == (0, 1, 0)
    silent = scaled.check_order(["a", "b"], _events("a", "b", answered=False))
    assert silent.unanswered == 2 and silent.lost == 0
    gone = scaled.check_order(["a", "b"], None)
    assert (gone.unreadable, gone.lost, gone.seen) == (1, 2, 0)
    total = scaled.check_conversations(
        {"s1": ["a", "b"], "s2": ["c"], "s3": ["d"]},
        {"s1": _events("b", "a"), "s2": _events("c")},  # s3 never read
    )
    assert (total.conversations, total.sent, total.reordered, total.unreadable) == (3, 4, 1, 1)


def test_lcs() -> None:
    assert scaled._lcs(list("abcd"), list("acbd")) == 3
    assert scaled._lcs([], list("ab")) == 0
    assert scaled._lcs(list("aaa"), list("aa")) == 2


def test_answered_counts_the_channels_apology_as_an_error() -> None:
    from bot import channels

    assert serving.NO_ANSWER_REPLY == channels.NO_ANSWER_REPLY
    assert serving.answered(200, [{"text": "Bonjour"}]) == (True, "")
    assert not serving.answered(200, [{"text": channels.NO_ANSWER_REPLY}])[0]
    assert not serving.answered(200, [])[0]
    assert not serving.answered(500, None)[0]


def test_sent_by_conversation_keeps_the_order_sent() -> None:
    turns = [
        serving.Turn(0, 1, 0.1, True, True, sender="s", message="two"),
        serving.Turn(1, 0, 0.1, True, True, sender="t", message="other"),
        serving.Turn(0, 0, 0.1, True, True, sender="s", message="one"),
    ]
    assert serving.sent_by_conversation(turns) == {"s": ["one", "two"], "t": ["other"]}
    assert scaled.conversations_for(10, 16, 800) == 5
    assert scaled.conversations_for(50, 16, 800) == 1
    assert scaled.conversations_for(1, 1, 10**6) == serving.MAX_CONVERSATIONS


BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_cpu_of_a_process_tree_from_proc() -> None:
    """A child that burns 0.3 s of CPU in a grandchild it waits for, then starts a second
    grandchild that burns 0.3 s and stays: the tree's CPU counts both."""
    code = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {BURN!r}], check=True)\n"
        f"kept = subprocess.Popen([sys.executable, '-c', {BURN!r} + 'time.sleep(60)'])\n"
        "print('ready', kept.pid, flush=True)\n"
        "kept.wait()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert child.stdout is not None
        word, kept = child.stdout.readline().split()
        assert word == "ready"
        kept_pid = int(kept)
        while scaled.process_cpu_seconds(kept_pid) < 0.25:  # the kept one is still burning
            time.sleep(0.05)
        assert set(scaled.tree([child.pid])) == {child.pid, kept_pid}
        own = scaled.process_cpu_seconds(child.pid)
        assert own >= 0.25  # the waited-for grandchild, in the child's children figure
        total = scaled.tree_cpu_seconds([child.pid])
        assert total >= own + scaled.process_cpu_seconds(kept_pid) - 0.02
        assert scaled.pss_mb(kept_pid) > 0
        memory = scaled.memory_mb({"piece": [child.pid]})
        assert memory["piece"] >= scaled.pss_mb(kept_pid)
        snap = scaled.cpu_snapshot({"piece": [child.pid]})
        assert set(snap) == {"piece", "load generator"} and snap["piece"] >= total - 0.02
        assert scaled.per_turn_ms({"a": 1.0}, {"a": 1.5}, 10) == {"a": 50.0}
    finally:
        for pid in scaled.tree([child.pid]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child.wait()
    assert scaled.process_cpu_seconds(-1) == 0.0 and scaled.pss_mb(-1) == 0.0


def test_postmaster_pid_is_read_from_the_data_folder(tmp_path: Path) -> None:
    assert scaled.postmaster_pid(tmp_path) is None
    (tmp_path / "postmaster.pid").write_text("4242\n/var/lib/postgresql/data\n1700000000\n")
    assert scaled.postmaster_pid(tmp_path) == 4242


def _level(visitors: int, turns_per_s: float, p95: float, cpu: dict[str, float],
           lost: int = 0) -> dict[str, object]:  # fmt: skip
    order = scaled.OrderCheck(conversations=visitors, sent=visitors * 16, seen=visitors * 16,
                              lost=lost).as_dict()  # fmt: skip
    return {"visitors": visitors, "turns": visitors * 16, "turns_per_s": turns_per_s,
            "p50_ms": p95 / 2, "p95_ms": p95, "p99_ms": p95 * 1.2, "errors": 0,
            "cpu_ms_per_turn": cpu, "order": order}  # fmt: skip


def _scaled_results() -> dict[str, object]:
    lean = {"rasa": 25.0, "actions": 2.0, "load generator": 5.0}
    full = {**lean, "rasa": 30.0, "postgres": 1.0, "redis": 1.5, "haproxy": 0.5}
    return {
        "turns_per_conversation": 16,
        "levels": [10, 50],
        "cores": 2,
        "load_average_before": [0.2, 0.3, 0.4],
        "load_average": [1.9, 1.0, 0.6],
        "columns": [
            {"name": "embedded", "rasa_processes": 1, "start_s": 20.0,
             "memory_mb": {"rasa": 900.0, "actions": 40.0},
             "load": [_level(10, 40.0, 300.0, lean), _level(50, 41.0, 1500.0, lean)]},
            {"name": "scaled-1", "rasa_processes": 1, "start_s": 30.0,
             "memory_mb": {"rasa": 950.0, "actions": 40.0, "postgres": 30.0, "redis": 5.0,
                           "haproxy": 8.0},
             "load": [_level(10, 30.0, 400.0, full), _level(50, 32.0, 1800.0, full)]},
            {"name": "scaled-2", "rasa_processes": 2, "start_s": 40.0,
             "memory_mb": {"rasa": 1900.0, "actions": 80.0, "postgres": 30.0, "redis": 5.0,
                           "haproxy": 8.0},
             "load": [_level(10, 45.0, 140.0, full), _level(50, 44.0, 1300.0, full, lost=1)]},
        ],
    }  # fmt: skip


def test_scaled_targets_and_what_limits_it() -> None:
    results = _scaled_results()
    by_name = {t.name: t for t in scaled.targets(results)}
    ratio = by_name["scaled: 2 / 1 Rasa processes, turns/s at 50 visitors not pausing"]
    assert ratio.measured == "1.38×" and not ratio.met  # 44 / 32
    p95 = by_name["scaled: p95 at 10 visitors not pausing, 2 Rasa processes"]
    assert p95.measured == "140 ms" and p95.met
    assert by_name["scaled: errors, every stack and level"].met
    lost = by_name["scaled: turns lost, reordered, duplicated or unanswered"]
    assert lost.measured == "1" and not lost.met
    assert scaled.speedup(results, 10) == pytest.approx(1.5)
    # 44 turns/s x 40 ms over every piece = 1.76 cores of 2
    assert scaled.cores_busy(results["columns"][2]["load"][1]) == pytest.approx(1.76)  # type: ignore[index]
    text = scaled.limits(results)
    assert "1.76 of 2 cores busy" in text and "processors are full" in text
    assert "2 / 1.28 = 1.56×" in text  # one process keeps 32 x 40 ms = 1.28 cores busy
    assert "not quiet" not in text and "turns failed" not in text
    # Little's law at 10 visitors, 2 processes: 10 / 45 turns/s; 2 cores / 40 ms = 50 turns/s
    assert "10 / 45.0 turns/s = 222 ms" in text and "= 67 turns/s" in text
    assert "serve at most 50: this load is beyond the machine" in text
    busy = copy.deepcopy(results)
    busy["columns"][1]["load"][0]["other_cores"] = 0.6  # type: ignore[index]
    assert "other programs kept up to 0.60 core busy" in scaled.limits(busy)
    assert "| other programs on the machine (cores) | — | 0.60 | — |" in scaled.markdown(busy)
    busy["columns"][1]["load"][1]["errors"] = 7  # type: ignore[index]
    assert "But 7 turns failed at 50 visitors (1 process: 7, 2 processes: 0)" in scaled.limits(busy)


def test_other_work_on_the_machine_from_proc_stat() -> None:
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat = f"cpu  {3 * tick} {tick} {2 * tick} {50 * tick} {7 * tick} 0 {tick} 0 0 0\ncpu0 1 2\n"
    assert scaled.machine_busy_seconds(stat) == pytest.approx(7.0)  # idle, iowait left out
    assert scaled.machine_busy_seconds() > 0
    assert scaled.other_cores(busy_s=7.0, ours_s=5.0, wall_s=4.0) == 0.5
    assert scaled.other_cores(busy_s=4.0, ours_s=5.0, wall_s=4.0) == 0.0
    assert scaled.other_cores(1.0, 0.0, 0.0) == 0.0
    assert scaled.targets({}) == [] and scaled.markdown({}) == []


def test_scaled_report_table() -> None:
    results = _scaled_results()
    lines = scaled.markdown(results)
    text = "\n".join(lines)
    assert lines[0] == "## Scaled serving"
    assert "| | embedded | scaled, 1 process | scaled, 2 processes |" in lines
    assert "|---|---|---|---|" in lines
    assert "| turns/s | 40.0 | 30.0 | 45.0 |" in lines  # 10 visitors first
    assert "| turns/s | 41.0 | 32.0 | 44.0 |" in lines
    assert "| p50 / p95 / p99 (ms) | 150 / 300 / 360 | 200 / 400 / 480 | 70 / 140 / 168 |" in lines
    assert "| lost / reordered / duplicated / unanswered | 0 / 0 / 0 / 0 | 0 / 0 / 0 / 0 " \
        "| 1 / 0 / 0 / 0 |" in lines  # fmt: skip
    assert "| CPU ms/turn postgres | — | 1.0 | 1.0 |" in lines
    all_pieces = "| CPU ms/turn, all pieces (cores busy) |"
    assert f"{all_pieces} 32.0 (1.28) | 40.0 (1.20) | 40.0 (1.80) |" in lines  # 10 visitors
    assert f"{all_pieces} 32.0 (1.31) | 40.0 (1.28) | 40.0 (1.76) |" in lines  # 50
    assert "| memory MB rasa | 900 | 950 | 1900 |" in lines
    assert "| memory MB, all pieces | 940 | 1033 | 2023 |" in lines
    assert "before the first stack started: 0.20 0.30 0.40" in text
    assert text.count("**What limits it.**") == 1
    whole = {
        "command": "make bench", "date": "2026-11-30 10:00 UTC", "duration_s": 60.0,
        "machine": report.machine(), "targets": [], "scaled": results,
    }  # fmt: skip
    doc = report.markdown(whole, "## Analysis\n\nWhy.")
    assert doc.index("## Scaled serving") < doc.index("## Analysis")


def test_rest_load_and_tracker_check_against_the_real_servers(running_stack) -> None:
    """The REST load straight to Rasa, two conversations per visitor, then each tracker read
    back and checked; and the check tells a conversation that was never sent."""
    result = asyncio.run(
        serving.load(
            running_stack.bot_url, 2, turns=3, path=serving.REST_WEBHOOK, conversations=2
        )  # fmt: skip
    )
    assert result.turns == 12 and result.errors == 0, result.error_samples
    assert len(result.sent) == 4 and all(len(m) == 3 for m in result.sent.values())
    assert "sent" not in result.as_dict() and result.as_dict()["conversations"] == 2
    token = running_stack.token
    trackers = asyncio.run(scaled.read_trackers(running_stack.bot_url, token, result.sent))
    check = scaled.check_conversations(result.sent, trackers)
    assert check.clean and check.sent == check.seen == 12, check
    # a conversation that claims a message Rasa never got
    forged = {**result.sent, "bench-never-sent": ["bonjour"]}
    trackers = asyncio.run(scaled.read_trackers(running_stack.bot_url, token, forged))
    assert scaled.check_conversations(forged, trackers).lost == 1
    wrong = asyncio.run(scaled.read_trackers(running_stack.bot_url, "wrong", ["x"]))
    assert wrong == {"x": None}

    measured = scaled.measure(running_stack.bot_url, token, scaled.embedded_pieces(running_stack),
                              [2], turns=3, total_turns=12, log=lambda _: None)  # fmt: skip
    (row,) = measured["load"]
    assert row["turns"] == 12 and row["errors"] == 0 and row["order"]["lost"] == 0
    assert row["cpu_ms_per_turn"]["rasa"] > 0 and row["other_cores"] >= 0
    assert set(row["cpu_ms_per_turn"]) == {"rasa", "actions", "load generator"}
    assert measured["memory_mb"]["rasa"] > 100


def test_scaled_bench_end_to_end_on_tiny_inputs(tmp_path: Path) -> None:
    """`python -m bot.bench --only scaled` with a tiny load: the embedded stack, then the
    scaled stack with one Rasa process behind HAProxy, its own PostgreSQL and Redis."""
    from bot.bench.__main__ import main

    out_json, out_doc = tmp_path / "results.json", tmp_path / "benchmarks.md"
    argv = ["--only", "scaled", "--scaled-visitors", "2", "--scaled-turns", "3",
            "--scaled-total", "12", "--scaled-processes", "1", "--json", str(out_json),
            "--doc", str(out_doc)]  # fmt: skip
    assert main(argv) == 0
    results = json.loads(out_json.read_text(encoding="utf-8"))
    columns = results["scaled"]["columns"]
    assert [c["name"] for c in columns] == ["embedded", "scaled-1"]
    for column in columns:
        (row,) = column["load"]
        assert row["turns"] == 12 and row["errors"] == 0, row["error_samples"]
        assert row["order"]["seen"] == 12 and row["order"]["lost"] == 0
        assert row["cpu_ms_per_turn"]["rasa"] > 0
    pieces = columns[1]["memory_mb"]
    assert set(pieces) == {"rasa", "actions", "postgres", "redis", "haproxy"}
    assert all(v > 0 for v in pieces.values()), pieces
    names = {t["name"] for t in results["targets"]}
    assert "scaled: turns lost, reordered, duplicated or unanswered" in names
    assert "understanding" not in results and "serving" not in results
    text = out_doc.read_text(encoding="utf-8")
    assert "## Scaled serving" in text and "| | embedded | scaled, 1 process |" in text


def test_a_partial_run_keeps_the_other_parts_of_the_earlier_results() -> None:
    from bot.bench.__main__ import keep_earlier

    earlier = {"date": "2026-11-29 10:00 UTC", "command": "make bench", "tiny": False,
               "understanding": {"rows": [], "n": 1}, "serving": {"n": 2},
               "scaled": {"columns": ["old"]}}  # fmt: skip
    now = {"date": "2026-11-30 10:00 UTC", "command": "make bench BENCH_ARGS='--only scaled'",
           "tiny": False, "scaled": {"columns": ["new"]}}  # fmt: skip
    merged = keep_earlier(now, earlier, ["scaled"])
    assert merged["scaled"] == {"columns": ["new"]}
    assert merged["understanding"]["n"] == 1 and merged["serving"] == {"n": 2}
    assert merged["kept"]["serving"] == {"date": "2026-11-29 10:00 UTC", "command": "make bench"}
    # kept again by a later partial run: still the run that measured it
    later = {"date": "2026-12-01 10:00 UTC", "command": "x", "tiny": False}
    again = keep_earlier(later, merged, ["scaled", "serving"])
    assert again["kept"] == {"understanding": merged["kept"]["understanding"]}
    assert "serving" not in again and "scaled" not in again
    assert keep_earlier({**now, "tiny": True}, earlier, ["scaled"]) == {**now, "tiny": True}
    text = report.markdown({**merged, "scaled": {}, "duration_s": 1.0, "machine": report.machine()})
    assert "Kept from earlier runs (not measured by this one): understanding from " \
        "`make bench` on 2026-11-29 10:00 UTC; serving" in text  # fmt: skip
