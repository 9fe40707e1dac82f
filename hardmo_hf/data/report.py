"""Plain-text tables for the build summary and the validation report (no terminal library needed)."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence], title: str | None = None) -> str:
    """A fixed-width table; numbers are right-aligned and get thousands separators."""

    def cell(value) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    text_rows = [[cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in rows)
               if rows else False for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in text_rows]) for i, h in enumerate(headers)]

    def line(values):
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))

    out = []
    if title:
        out.append(title)
    out.append(line(list(headers)).rstrip())
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r).rstrip() for r in text_rows)
    return "\n".join(out)
