"""The benchmark's code paths on tiny inputs, so that `make bench` does not rot.

No timing is asserted here: `make bench` measures, these tests check that what it measures
is computed right and that every path (datasets, the three systems, the load generator, the
cost breakdown, memory and CPU readings, the report) runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.bench import datasets, report, serving, understanding
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
    argv = ["--tiny", "--systems", "tfidf_svm", "--visitors", "2", "--paced", "2",
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
