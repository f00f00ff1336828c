"""CSV files that open cleanly in a French spreadsheet (LibreOffice Calc, Excel in French).

French spreadsheets read `;` as the separator (the comma is the decimal mark) and need the
UTF-8 byte-order mark to show accents rather than guess Windows-1252. Numbers are written
with a decimal comma, dates in local time as « 30/11/2026 14:05 ». A cell that a visitor's
text could turn into a formula is defused.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

BOM = "\ufeff"
SEPARATOR = ";"
TZ = ZoneInfo("Europe/Paris")
MEDIA_TYPE = "text/csv; charset=utf-8"

# A formula starts with = + - @ (or a tab / carriage return); also after a separator or a
# line break inside the cell, where some spreadsheets start a new cell on import.
_FORMULA_START = re.compile(r"""(^|[;,\t\r\n])([\s"']*)(?=[=+\-@\t\r])""")


def safe_text(value: str) -> str:
    """`value` with a quote before anything a spreadsheet would run as a formula."""
    return _FORMULA_START.sub(r"\1\2'", value)


def local_time(iso: str | datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """An ISO timestamp (UTC, as the stores keep them) in French local time; "" for None."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    if moment.tzinfo is None:
        return moment.strftime(fmt)
    return moment.astimezone(TZ).strftime(fmt)


def cell(value: Any) -> str:
    """One value as a French spreadsheet shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",") if value == value else ""
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int):
        return str(value)
    return safe_text(str(value))


class FrenchCsv:
    """Writes rows to `file`: the BOM first, then `;`-separated, every cell quoted (so that a
    separator or a line break inside a value stays in its cell)."""

    def __init__(self, file: TextIO, *, bom: bool = True):
        if bom:
            file.write(BOM)
        self._writer = csv.writer(
            file, delimiter=SEPARATOR, quoting=csv.QUOTE_ALL, lineterminator="\r\n"
        )

    def row(self, values: Sequence[Any]) -> None:
        self._writer.writerow([cell(v) for v in values])

    def rows(self, rows: Iterable[Sequence[Any]]) -> None:
        for values in rows:
            self.row(values)

    def blank(self) -> None:
        self._writer.writerow([])
