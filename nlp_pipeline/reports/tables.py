"""Plain-text and Markdown tables for results (no dependency: the CLI must start fast)."""

from __future__ import annotations

from collections.abc import Sequence


def percent(share: float | None) -> str:
    """A share (an accuracy, an F1) as every table, report and log line shows it: percent with two decimals,
    ``0.8624`` → ``86.24``; ``""`` for None. Prose adds the ``%``; a table's column says what it is."""
    return "" if share is None else f"{100 * share:.2f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], markdown: bool = False) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        return ("| " + " | ".join(padded) + " |") if markdown else "  ".join(padded).rstrip()

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|" if markdown else "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def per_class_table(report: dict, classes: Sequence[str]) -> str:
    """Markdown table of precision / recall / F1 (in percent, as every score) / support per class, from
    scikit-learn's report dict.

    Classes are listed by support (most frequent first), so the tags that weigh most on accuracy
    come first; macro and weighted averages close the table.
    """
    rows = []
    ordered = sorted((c for c in classes if c in report), key=lambda c: -report[c]["support"])
    for name in [*ordered, "macro avg", "weighted avg"]:
        r = report.get(name)
        if r is None:
            continue
        rows.append([name, percent(r["precision"]), percent(r["recall"]), percent(r["f1-score"]),
                     f"{int(r['support']):,}"])
    return format_table(["tag", "precision %", "recall %", "F1 %", "support"], rows, markdown=True)
