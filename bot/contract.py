"""What the product contract (`SHARED_DIR/docs/contract.md`) lists: the guide catalogue of
the first wave and that of the second wave, read from its tables."""

from __future__ import annotations

import re
from pathlib import Path

_ID_ROW = re.compile(r"^\|\s*`([a-z_]+\.[a-z_]+)`\s*\|", re.MULTILINE)
FIRST_WAVE = "## Guide catalogue\n"
SECOND_WAVE = "## Guide catalogue, second wave\n"


def _section(text: str, title: str) -> str:
    if title not in text:
        return ""
    return text.split(title, 1)[1].split("\n## ", 1)[0]


def catalogue_waves(contract: Path) -> tuple[list[str], list[str]]:
    """The guide ids of the contract's first and second catalogue tables, in order."""
    text = contract.read_text(encoding="utf-8")
    return (
        _ID_ROW.findall(_section(text, FIRST_WAVE)),
        _ID_ROW.findall(_section(text, SECOND_WAVE)),
    )


def contract_path(shared_dir: Path) -> Path:
    return shared_dir / "docs" / "contract.md"
