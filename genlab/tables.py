"""Plain-text tables for the command line, benchmarks and lectures (bottom layer: no genlab imports)."""
from __future__ import annotations


def format_table(rows: list[tuple], header: tuple[str, ...]) -> str:
    """A plain-text table with a header rule; numbers right-aligned."""
    rows = [header] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]

    def cell(text: str, width: int, j: int) -> str:
        numeric = j > 0 and text.replace(".", "", 1).replace("/", "", 1).isdigit()
        return text.rjust(width) if numeric else text.ljust(width)

    lines = ["  ".join(cell(c, w, j) for j, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
