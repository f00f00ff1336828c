"""`make eval`: route every line of an evaluation TSV through the live REST channel.

Each case is sent as the first message of a new conversation. When no Rasa server answers
on BOT_PORT, a temporary stack is started on free ports and stopped at the end.
"""

from __future__ import annotations

import sys
import uuid
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bot.client import route_matches, route_of, send
from bot.contract import catalogue_waves, contract_path
from bot.guides import load_catalogue
from bot.settings import get_settings
from bot.stack import Stack, _get, free_port


def read_cases(path: Path) -> list[tuple[str, str]]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        expected, sep, message = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{number}: expected 'label<TAB>message'")
        cases.append((expected.strip(), message.strip()))
    return cases


@dataclass
class EvalResult:
    per_route: dict[str, list[int]] = field(default_factory=dict)  # label -> [right, cases]
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # expected, got, message

    @property
    def right(self) -> int:
        return sum(v[0] for v in self.per_route.values())

    @property
    def total(self) -> int:
        return sum(v[1] for v in self.per_route.values())

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def evaluate(base_url: str, cases: list[tuple[str, str]], ids: set[str]) -> EvalResult:
    per_route: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    errors = []
    for expected, message in cases:
        route = route_of(send(base_url, f"eval-{uuid.uuid4().hex}", message))
        ok = route_matches(expected, route, ids)
        per_route[expected][0] += ok
        per_route[expected][1] += 1
        if not ok:
            errors.append((expected, route, message))
    return EvalResult(dict(per_route), errors)


def main(argv: list[str]) -> int:
    settings = get_settings()
    path = Path(argv[0]) if argv else settings.shared_dir / "eval" / "dev_routing.tsv"
    cases = read_cases(path)
    # « fallback_or_new » means a fallback or a guide outside the contract's (first-wave)
    # catalogue: a second-wave guide answering « refaire mon passeport » is right.
    contract = contract_path(settings.shared_dir)
    ids = set(catalogue_waves(contract)[0]) if contract.exists() else set(load_catalogue().ids)
    with ExitStack() as stack:
        base_url = f"http://{settings.host}:{settings.bot_port}"
        if _get(base_url + "/")[0] != 200:
            print("Aucun serveur Rasa sur BOT_PORT : démarrage d'un serveur temporaire...")
            running = stack.enter_context(
                Stack(
                    settings,
                    bot_port=free_port(),
                    actions_port=free_port(),
                    quiet=True,
                    with_web=False,
                )
            )
            base_url = running.bot_url
        result = evaluate(base_url, cases, ids)
    print(f"\n{path}")
    print(f"{'route':38} {'right':>5} {'cases':>5} {'accuracy':>8}")
    for route in sorted(result.per_route):
        right, total = result.per_route[route]
        print(f"{route:38} {right:5} {total:5} {right / total:8.2f}")
    print(f"{'overall':38} {result.right:5} {result.total:5} {result.accuracy:8.2f}")
    for expected, route, message in result.errors:
        print(f"  wrong: expected {expected}, got {route}: {message}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
