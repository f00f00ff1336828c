"""`make bench`: python -m bot.bench [--only understanding serving scaled] [--tiny] [...]

Runs the understanding benchmark (three systems, two datasets), the serving benchmark
(`make run`, load at 1, 10 and 50 visitors, memory, training, first answer, cost of a turn)
and the scaled serving benchmark (the embedded stack, then 1 and 2 Rasa processes behind
HAProxy with PostgreSQL and Redis, side by side), prints the tables, and writes
docs/benchmarks.md and var/bench/results.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.bench import report
from bot.settings import get_settings
from bot.stack import MODEL_NAME, ROOT, VENV_BIN, free_port

ANALYSIS = Path(__file__).with_name("analysis.md")
# DIET trains 100 epochs by default; on a 2-core machine that alone takes about 40 minutes
# over both datasets, beyond the 20 minutes of `make bench`. DIET_EPOCHS=100 for the full run.
DIET_EPOCHS = 15


def log(text: str) -> None:
    print(text, flush=True)


def run_understanding(args: argparse.Namespace) -> dict[str, Any]:
    from bot.bench import datasets, understanding

    settings = get_settings()
    sets = [
        datasets.ours(ROOT / "bot" / "data" / "nlu"),
        datasets.massive_few_shot(settings.shared_dir / "bench" / "massive_fr" / "train.jsonl"),
    ]
    if args.tiny:
        sets = [ds.shrink(intents=3, per_intent_train=6, per_intent_test=2) for ds in sets]
    log("Understanding")
    rows = understanding.run(sets, ROOT, diet_epochs=args.diet_epochs, only=args.systems, log=log)
    return {
        "datasets": [
            {
                "name": ds.name,
                "description": ds.description,
                "n_train": len(ds.train),
                "n_test": len(ds.test),
                "n_intents": len(ds.intents),
            }  # fmt: skip
            for ds in sets
        ],
        "rows": [r.as_dict() for r in rows],
    }


def cold_training(rasa_args: list[str], workdir: Path) -> tuple[float, Path]:
    """`rasa train ...` with an empty training cache; seconds and the model file."""
    out = workdir / "models"
    env = {
        **os.environ,
        "RASA_CACHE_DIRECTORY": str(workdir / "cache"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 (our own training command)
        [str(VENV_BIN / "rasa"), "train", *rasa_args, "--out", str(out),
         "--fixed-model-name", "bench"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    models = sorted(out.glob("bench*.tar.gz"))
    if not models:
        raise RuntimeError("rasa train wrote no model")
    return seconds, models[0]


def breakdown_in_a_fresh_process(
    model: Path, actions_url: str, tracker_db: Path, secret: str
) -> Any:
    """`serving.breakdown` in a new Python process, as lean as the Rasa server's: in this
    one, the models the understanding half loaded would slow every part down."""
    from bot.bench import serving

    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from bot.bench import serving\n"
        "b = serving.breakdown(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))\n"
        "print('BREAKDOWN ' + json.dumps(b.as_dict()))\n"
    )
    done = subprocess.run(  # noqa: S603 (our own code)
        [str(VENV_BIN / "python"), "-c", code, str(model), actions_url, str(tracker_db)],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
             "ACTIONS_SECRET": secret},
    )  # fmt: skip
    line = next(x for x in done.stdout.splitlines() if x.startswith("BREAKDOWN "))
    return serving.Breakdown(**json.loads(line.removeprefix("BREAKDOWN ")))


def run_serving(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import asyncio

    from bot import rasa_speedups
    from bot.bench import serving

    log("Serving")
    out: dict[str, Any] = {}
    if args.tiny:
        nlu = workdir / "tiny_nlu.yml"
        from bot.bench import datasets

        tiny = datasets.ours(ROOT / "bot" / "data" / "nlu").shrink(3, 6, 0)
        datasets.write_rasa_nlu(tiny.train, nlu)
        rasa_args = ["nlu", "--nlu", str(nlu), "--config", "config.yml"]
    else:
        rasa_args = ["--domain", "domain.yml", "--data", "bot/data", "--config", "config.yml"]
    seconds, model = cold_training(rasa_args, workdir / "training")
    out["training_s"] = seconds
    out["model_mb"] = model.stat().st_size / 1e6
    log(f"  training {seconds:.0f} s, model {out['model_mb']:.1f} MB")

    settings = get_settings()
    ports = {"BOT_PORT": free_port(), "ACTIONS_PORT": free_port(), "WEB_PORT": free_port()}
    data_dir = workdir / "data"
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "DATA_DIR": str(data_dir),
           "LOG_LEVEL": "WARNING", "ACTIONS_SECRET": secrets.token_hex(32)}  # fmt: skip
    web_url = f"http://{settings.host}:{ports['WEB_PORT']}"
    stack = serving.start_make_run(ROOT, env, web_url, log=workdir / "make_run.log")
    try:
        out["first_answer_s"] = stack.first_answer_s
        log(f"  first answer {stack.first_answer_s:.1f} s after make run")
        # The understanding half left this process with TensorFlow, spaCy and Rasa loaded:
        # over a million objects, whose full garbage collections would pause the load
        # generator (and inflate what it measures) by up to a second. Out of the collector.
        rasa_speedups.freeze_loaded_objects()
        # Untimed warm-up: one walk per guide start, so that first-use costs are not counted.
        asyncio.run(serving.load(web_url, len(serving.STARTS), turns=args.turns))
        loads = []
        levels = [(n, 0.0) for n in args.visitors] + [(n, args.reading_s) for n in args.paced]
        for visitors, think in levels:
            before = serving.cpu_by_role(stack)
            result = asyncio.run(serving.load(web_url, visitors, turns=args.turns, think_s=think))
            after = serving.cpu_by_role(stack)
            row = result.as_dict()
            row["cpu_ms_per_turn"] = {
                role: (after[role] - before.get(role, 0.0)) * 1000 / max(1, result.turns)
                for role in after
            }
            loads.append(row)
            reading = f"reading {think:.1f} s" if think else "not reading"
            log(
                f"  {visitors:>3} visitors {reading}: "
                f"p50 {result.p50_ms:.0f} ms  p95 {result.p95_ms:.0f} ms  p99 "
                f"{result.p99_ms:.0f} ms  {result.turns_per_s:.1f} turns/s  "
                f"errors {result.errors}  off-script {result.unexpected}  CPU ms/turn "
                + " ".join(f"{k} {v:.1f}" for k, v in row["cpu_ms_per_turn"].items())
            )
        out["load"] = loads
        out["error_samples"] = sorted({e for r in loads for e in r["error_samples"]})[:5]
        out["rss_mb"] = serving.peak_rss(stack)
        log("  peak memory " + ", ".join(f"{k} {v:.0f} MB" for k, v in out["rss_mb"].items()))
        actions_url = f"http://{settings.host}:{ports['ACTIONS_PORT']}"
        breakdown = breakdown_in_a_fresh_process(
            ROOT / "models" / MODEL_NAME,
            actions_url,
            workdir / "breakdown_tracker.db",
            env["ACTIONS_SECRET"],
        )
        out["breakdown"] = breakdown.as_dict()
        log(
            f"  one turn in-process {breakdown.total_ms:.1f} ms: "
            + ", ".join(f"{k} {v:.1f}" for k, v in breakdown.parts_ms.items())
        )
    finally:
        stack.stop()
    return out


def run_scaled(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from bot import rasa_speedups
    from bot.bench import scaled

    # As in run_serving: the load generator must not pause for full garbage collections of
    # what the understanding half loaded.
    rasa_speedups.freeze_loaded_objects()
    return scaled.run(
        get_settings(),
        workdir / "scaled",
        levels=args.scaled_visitors,
        turns=args.scaled_turns,
        total_turns=args.scaled_total,
        processes=args.scaled_processes,
        log=log,
    )


PARTS = ("understanding", "serving", "scaled")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS),
                        help="the parts to run (default: all)")  # fmt: skip
    parser.add_argument("--tiny", action="store_true", help="tiny inputs: checks the code paths")
    parser.add_argument("--systems", nargs="*", default=[], help="guichet rasa_default tfidf_svm")
    parser.add_argument(
        "--diet-epochs", type=int, default=int(os.environ.get("DIET_EPOCHS", DIET_EPOCHS))
    )
    parser.add_argument("--visitors", type=int, nargs="*", default=[1, 10, 50])
    parser.add_argument("--paced", type=int, nargs="*", default=[1, 10, 50],
                        help="visitor counts also run with reading time between turns")  # fmt: skip
    parser.add_argument("--reading-s", type=float, default=2.0)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--scaled-visitors", type=int, nargs="+", default=[10, 50],
                        help="scaled serving: visitors not pausing, at each level")  # fmt: skip
    parser.add_argument("--scaled-turns", type=int, default=16,
                        help="scaled serving: turns per conversation")  # fmt: skip
    parser.add_argument("--scaled-total", type=int, default=800,
                        help="scaled serving: turns per level (visitors walk several "
                        "conversations to reach it)")  # fmt: skip
    parser.add_argument("--scaled-processes", type=int, nargs="+", default=[1, 2],
                        help="scaled serving: Rasa processes of each scaled stack")  # fmt: skip
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "results.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--from-json", action="store_true",
                        help="only rewrite --doc from the results in --json (after editing "
                        "bot/bench/analysis.md)")  # fmt: skip
    return parser.parse_args(argv)


def command(argv: list[str]) -> str:
    epochs = os.environ.get("DIET_EPOCHS")
    return (
        (f"DIET_EPOCHS={epochs} " if epochs else "")
        + "make bench"
        + (f" BENCH_ARGS='{' '.join(argv)}'" if argv else "")
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.from_json:
        write_doc(json.loads(args.json.read_text(encoding="utf-8")), args)
        log(f"Written: {args.doc} from {args.json}")
        return 0
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": command(argv),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": report.machine(),
        "diet_epochs": args.diet_epochs,
        "tiny": args.tiny,
    }
    workdir = Path(tempfile.mkdtemp(prefix="guichet-bench-"))
    try:
        if "understanding" in args.only:
            results["understanding"] = run_understanding(args)
        if "serving" in args.only:
            results["serving"] = run_serving(args, workdir)
        if "scaled" in args.only:
            results["scaled"] = run_scaled(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["duration_s"] = time.perf_counter() - started
    if args.json.exists():
        previous = json.loads(args.json.read_text(encoding="utf-8"))
        results = keep_earlier(results, previous, args.only)
    targets = report.understanding_targets(results.get("understanding", {}).get("rows", []))
    targets += report.serving_targets(results.get("serving", {}))
    targets += scaled_targets(results.get("scaled", {}))
    results["targets"] = [t.__dict__ for t in targets]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    write_doc(results, args)
    log("")
    log(report.markdown(results))  # the tables, without the analysis
    log(f"Written: {args.doc} and {args.json} ({results['duration_s'] / 60:.1f} min)")
    return 0


def keep_earlier(
    results: dict[str, Any], previous: dict[str, Any], ran: list[str]
) -> dict[str, Any]:
    """The parts this run did not measure, taken from the earlier results (`--only scaled`
    must not wipe the understanding and serving figures from docs/benchmarks.md), each
    with the run it comes from. Tiny and real results are never mixed."""
    if bool(previous.get("tiny")) != bool(results.get("tiny")):
        return results
    out = dict(results)
    for part in PARTS:
        if part in ran or part not in previous:
            continue
        out[part] = previous[part]
        origin = previous.get("kept", {}).get(part) or {
            "date": previous.get("date", "?"),
            "command": previous.get("command", "?"),
        }
        out.setdefault("kept", {})[part] = origin
    return out


def scaled_targets(results: dict[str, Any]) -> list[report.Target]:
    from bot.bench import scaled

    return scaled.targets(results)


def write_doc(results: dict[str, Any], args: argparse.Namespace) -> None:
    tiny = results.get("tiny", False)
    analysis = ANALYSIS.read_text(encoding="utf-8") if ANALYSIS.exists() and not tiny else ""
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(report.markdown(results, analysis), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
