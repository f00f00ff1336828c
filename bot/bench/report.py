"""The benchmark report: targets, tables in Markdown, the machine it ran on."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.bench.datasets import IN_GUIDE_COMMANDS as COMMANDS

# Targets of the benchmark issue, in one place.
ACCURACY_MARGIN = 0.03  # our pipeline over the TF-IDF baseline, on each dataset
P95_MS_AT_10 = 100.0
TURNS_PER_S_AT_50 = 40.0
TOTAL_RSS_MB = 2048.0
TRAINING_S = 180.0
FIRST_ANSWER_S = 30.0
# Serving figures of the pipeline before the sentence encoder (docs/benchmarks.md of
# 2026-11-21, and bot/bench/analysis.md for the typed-message parse), for comparison.
BEFORE_ENCODER = (
    "8.0 ms of CPU to parse a typed message (NLU alone), Rasa 19–22 ms of CPU per turn and "
    "42.7 turns/s with 50 visitors not reading"
)


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    versions = {}
    for package in ("rasa", "rasa-sdk", "spacy", "fr-core-news-sm", "scikit-learn",
                    "tensorflow", "starlette", "uvicorn"):  # fmt: skip
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return {
        "cpu": cpu or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
    }


def _f(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def understanding_targets(rows: list[dict[str, Any]]) -> list[Target]:
    out = []
    for dataset in sorted({r["dataset"] for r in rows}):
        by = {r["system"]: r for r in rows if r["dataset"] == dataset}
        if "guichet" in by and "tfidf_svm" in by:
            gap = by["guichet"]["accuracy"] - by["tfidf_svm"]["accuracy"]
            out.append(
                Target(
                    f"accuracy on {dataset}",
                    f"≥ TF-IDF + SVM + {ACCURACY_MARGIN * 100:.0f} points",
                    f"{gap * 100:+.1f} points ({by['guichet']['accuracy']:.3f} vs "
                    f"{by['tfidf_svm']['accuracy']:.3f})",
                    gap >= ACCURACY_MARGIN,
                )
            )
            for variant, ours in by["guichet"].get("variants", {}).items():
                theirs = by["tfidf_svm"].get("variants", {}).get(variant)
                if theirs is None:
                    continue
                out.append(
                    Target(
                        f"accuracy on {dataset}, {VARIANT_NAMES.get(variant, variant)}",
                        "≥ TF-IDF + SVM",
                        f"{(ours - theirs) * 100:+.1f} points ({ours:.3f} vs {theirs:.3f})",
                        ours >= theirs,
                    )
                )
    return out


def serving_targets(serving: dict[str, Any]) -> list[Target]:
    """Latency with visitors who read (people in a public space); throughput with visitors
    who never read (the most the machine can serve)."""
    out = []
    rows = serving.get("load", [])
    reading = {row["visitors"]: row for row in rows if row["think_s"]}
    eager = {row["visitors"]: row for row in rows if not row["think_s"]}
    if 10 in reading:
        r = reading[10]
        out.append(Target("p95 per turn, 10 visitors reading", f"≤ {P95_MS_AT_10:.0f} ms",
                          f"{r['p95_ms']:.0f} ms", r["p95_ms"] <= P95_MS_AT_10))  # fmt: skip
    if 50 in eager:
        r = eager[50]
        goal = f"≥ {TURNS_PER_S_AT_50:.0f} turns/s"
        out.append(Target("throughput, 50 visitors not reading", goal,
                          f"{r['turns_per_s']:.1f} turns/s",
                          r["turns_per_s"] >= TURNS_PER_S_AT_50))  # fmt: skip
    if rows:
        errors = sum(row["errors"] for row in serving.get("load", []))
        out.append(Target("errors", "0 at every N", str(errors), errors == 0))
    if "rss_mb" in serving:
        total = sum(serving["rss_mb"].values())
        out.append(Target("peak memory, all processes", f"< {TOTAL_RSS_MB:.0f} MB",
                          f"{total:.0f} MB", total < TOTAL_RSS_MB))  # fmt: skip
    if "training_s" in serving:
        seconds = serving["training_s"]
        out.append(Target("training", f"< {TRAINING_S:.0f} s", f"{seconds:.0f} s",
                          seconds < TRAINING_S))  # fmt: skip
    if "first_answer_s" in serving:
        out.append(Target("first answer after `make run`", f"< {FIRST_ANSWER_S:.0f} s",
                          f"{serving['first_answer_s']:.1f} s",
                          serving["first_answer_s"] < FIRST_ANSWER_S))  # fmt: skip
    return out


VARIANT_NAMES = {"typos": "typos", "no_accents": "no accents"}

SYSTEM_NAMES = {
    "guichet": "Guichet (`config.yml`)",
    "rasa_default": "Rasa default, no spaCy (DIET)",
    "tfidf_svm": "TF-IDF words + chars, LinearSVC",
}


def markdown(results: dict[str, Any], analysis: str = "") -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{results['command']}` on {results['date']} "
        f"in {results['duration_s'] / 60:.1f} min. Do not edit by hand: run it again.",
        "",
    ]
    kept = results.get("kept", {})
    if kept:
        lines += [
            "Kept from earlier runs (not measured by this one): "
            + "; ".join(f"{part} from `{k['command']}` on {k['date']}" for part, k in kept.items())
            + ".",
            "",
        ]
    m = results["machine"]
    lines += [
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gb']} GB; {m['system']}",
        f"- Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        "",
    ]
    targets = [Target(**t) for t in results.get("targets", [])]
    if targets:
        lines += ["## Targets", "", "| target | goal | measured | |", "|---|---|---|---|"]
        lines += [
            f"| {t.name} | {t.goal} | {t.measured} | {'met' if t.met else '**missed**'} |"
            for t in targets
        ]
        lines.append("")
    understanding = results.get("understanding", {})
    if understanding.get("rows"):
        lines += ["## Understanding", ""]
        for dataset in understanding["datasets"]:
            rows = [r for r in understanding["rows"] if r["dataset"] == dataset["name"]]
            lines += [
                f"### {dataset['name']}: {dataset['description']}",
                "",
                f"{dataset['n_train']} training and {dataset['n_test']} test messages, "
                f"{dataset['n_intents']} intents.",
                "",
                "| system | accuracy | macro-F1 | best-intent accuracy | out-of-scope precision "
                "| out-of-scope recall | training (s) | ms per message | notes |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for r in rows:
                lines.append(
                    f"| {SYSTEM_NAMES.get(r['system'], r['system'])} | {_f(r['accuracy'])} "
                    f"| {_f(r['macro_f1'])} | {_f(r['top_accuracy'])} | {_f(r['oos_precision'])} "
                    f"| {_f(r['oos_recall'])} | {r['train_s']:.1f} | {r['infer_ms']:.2f} "
                    f"| {'; '.join(r['notes'])} |"
                )
            variants = sorted({v for r in rows for v in r.get("variants", {})})
            commands = any(r.get("commands_accuracy") is not None for r in rows)
            if variants or commands:
                heads = ["clean", *(VARIANT_NAMES.get(v, v) for v in variants)]
                heads += ["in-guide commands"] if commands else []
                lines += [
                    "",
                    "Accuracy on the same test set, as typed, with one typo in every word "
                    "longer than 4 letters, and without accents (seeded); in-guide commands: "
                    "the test messages of " + ", ".join(f"`{i}`" for i in sorted(COMMANDS)) + ".",
                    "",
                    "| system | " + " | ".join(heads) + " |",
                    "|---" * (len(heads) + 1) + "|",
                ]
                for r in rows:
                    cells = [_f(r["accuracy"])]
                    cells += [_f(r.get("variants", {}).get(v)) for v in variants]
                    cells += [_f(r.get("commands_accuracy"))] if commands else []
                    name = SYSTEM_NAMES.get(r["system"], r["system"])
                    lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
        lines += [
            "Accuracy scores what the system answers: a fallback (`nlu_fallback`) is right "
            "for an out-of-scope message (`out_of_scope`, `not_covered`) and wrong otherwise. "
            "Best-intent accuracy ignores the fallback threshold. MASSIVE has no out-of-scope "
            "class, so its accuracy is the best-intent accuracy. Macro-F1 is the mean F1 over "
            "the test intents. Times are wall-clock on the machine above, one message at a "
            "time.",
            "",
        ]
    serving = results.get("serving", {})
    if serving.get("load"):
        lines += [
            "## Serving",
            "",
            "Each visitor starts a guide with typed words, then walks it with buttons and typed "
            f"words, {serving['load'][0]['turns_per_visitor']} turns, through `/api/chat` on the "
            "web app (web app → Rasa REST channel → action server, SQL tracker store), with the "
            "servers started by `make run`. Two kinds of load: visitors who *read*, pausing "
            "between answers (uniformly 0 to twice the mean, also before their first message, "
            "so they arrive spread out), as people at a kiosk do; and visitors who *do not "
            "read*, all starting at once and sending each message as soon as the answer "
            "arrives: the most the machine can serve. One untimed warm-up walk per guide "
            "comes first. CPU columns: processor time each server used per turn.",
            "",
            "| visitors | reading | turns | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | turns/s "
            "| errors | off-script | CPU ms/turn Rasa | actions | web |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in serving["load"]:
            reading = f"{r['think_s']:.1f} s" if r["think_s"] else "no"
            cpu = r.get("cpu_ms_per_turn", {})
            lines.append(
                f"| {r['visitors']} | {reading} | {r['turns']} | {r['p50_ms']:.0f} "
                f"| {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['max_ms']:.0f} "
                f"| {r['turns_per_s']:.1f} | {r['errors']} | {r['unexpected']} "
                f"| {_f(cpu.get('rasa'), 1)} | {_f(cpu.get('actions'), 1)} "
                f"| {_f(cpu.get('web'), 1)} |"
            )
        lines.append("")
        if serving.get("error_samples"):
            lines += ["Errors seen: " + "; ".join(serving["error_samples"]), ""]
    if "rss_mb" in serving:
        rss = serving["rss_mb"]
        lines += [
            "| peak resident memory | Rasa server | action server | web app | total |",
            "|---|---|---|---|---|",
            f"| MB | {rss.get('rasa', 0):.0f} | {rss.get('actions', 0):.0f} "
            f"| {rss.get('web', 0):.0f} | {sum(rss.values()):.0f} |",
            "",
        ]
    if "training_s" in serving:
        lines += [
            f"- Training (`rasa train`, empty cache): {serving['training_s']:.0f} s; "
            f"model size {serving['model_mb']:.1f} MB.",
            f"- From `make run` to the first answer (model trained): "
            f"{serving['first_answer_s']:.1f} s.",
            "",
        ]
    if serving.get("breakdown"):
        b = serving["breakdown"]
        lines += [
            "### Where the time of one turn goes",
            "",
            f"{b['turns']} turns in a fresh process, one after the other, with the same model, "
            "Guichet's speed fixes, the running action server and the SQL tracker store; "
            "mean per turn "
            f"{b['total_ms']:.1f} ms.",
            "",
            "| part | ms per turn | calls |",
            "|---|---|---|",
        ]
        for part, ms in b["parts_ms"].items():
            lines.append(f"| {part} | {ms:.1f} | {b['calls'].get(part, '')} |")

        if serving.get("load"):
            single = next(
                (r for r in serving["load"] if r["visitors"] == 1 and not r["think_s"]), None
            )
            if single:
                lines += [
                    f"| HTTP relay and REST channel (p50 at 1 visitor − mean above) "
                    f"| {max(0.0, single['p50_ms'] - b['total_ms']):.1f} | |"
                ]
        lines.append("")
        if b.get("typed_turns"):
            lines += [
                f"Processor time of that process per turn: {b['cpu_ms_typed']:.1f} ms for a "
                f"typed message ({b['typed_turns']} turns), {b['cpu_ms_button']:.1f} ms for a "
                f"button; before the sentence encoder: {BEFORE_ENCODER}.",
                "",
            ]
    if results.get("scaled"):
        from bot.bench import scaled  # here: it imports Target from this module

        lines += scaled.markdown(results["scaled"])
    if analysis:
        lines += [analysis.strip(), ""]
    return "\n".join(lines)
