"""Reading route markers the way the front ends and the evaluation do."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.client import markers, route_matches, route_of
from bot.eval import read_cases

IDS = {"impots.paiement", "cv.rediger"}


def test_route_of_each_marker():
    text = {"recipient_id": "x", "text": "Bonjour"}
    assert route_of([text]) == "none"
    assert route_of([text, {"custom": {"guide": "cv.rediger", "step": 1, "steps": 5}}]) == (
        "cv.rediger"
    )
    assert route_of([{"custom": {"handoff": "offered"}}]) == "handoff"
    assert route_of([{"custom": {"fallback": "not_covered"}}]) == "fallback"
    assert route_of([{"custom": {"menu": ["cv.rediger"]}}]) == "menu"
    assert markers([{"custom": {"other": 1}}, text]) == []


@pytest.mark.parametrize(
    ("expected", "route", "ok"),
    [
        ("cv.rediger", "cv.rediger", True),
        ("cv.rediger", "impots.paiement", False),
        ("handoff", "handoff", True),
        ("fallback", "fallback", True),
        ("fallback", "menu", False),
        ("fallback_or_new", "fallback", True),
        ("fallback_or_new", "etat_civil.passeport", True),
        ("fallback_or_new", "cv.rediger", False),
        ("fallback_or_new", "menu", False),
    ],
)
def test_route_matches(expected, route, ok):
    assert route_matches(expected, route, IDS) is ok


def test_read_cases(tmp_path: Path):
    path = tmp_path / "cases.tsv"
    path.write_text("cv.rediger\tfaire mon cv\n\n# comment\nfallback\tchante\n", encoding="utf-8")
    assert read_cases(path) == [("cv.rediger", "faire mon cv"), ("fallback", "chante")]
    path.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cases.tsv:1"):
        read_cases(path)
