"""CSV exports of console lists, safe to open in a spreadsheet.

A cell that starts with = + - @ (or a tab or carriage return) would be read by Excel or WPS as
a formula (CSV injection, OWASP): such a cell is written with a leading apostrophe, which the
spreadsheet shows as text. The file starts with a byte-order mark so Excel reads the Chinese
as UTF-8. Rows are streamed, so an export of a long list never sits whole in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, stream_with_context

from infra.clock import CHINA, now

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """A value as CSV text a spreadsheet will not run."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff"
    writer.writerow([safe_cell(c) for c in header])
    yield flush()
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
        yield flush()


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    """A download named `<name>-<China date and time>.csv` (ASCII name)."""
    stamp = now().astimezone(CHINA).strftime("%Y%m%d-%H%M")
    response = Response(
        stream_with_context(csv_lines(header, rows)), mimetype="text/csv; charset=utf-8"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
