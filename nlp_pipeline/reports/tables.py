"""Plain-text and Markdown tables for results (no dependency: the CLI must start fast)."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], markdown: bool = False) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        return ("| " + " | ".join(padded) + " |") if markdown else "  ".join(padded).rstrip()

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|" if markdown else "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def per_class_table(report: dict, classes: Sequence[str]) -> str:
    """Markdown table of precision / recall / F1 / support per class, from scikit-learn's report dict.

    Classes are listed by support (most frequent first), so the tags that weigh most on accuracy
    come first; macro and weighted averages close the table.
    """
    rows = []
    ordered = sorted((c for c in classes if c in report), key=lambda c: -report[c]["support"])
    for name in [*ordered, "macro avg", "weighted avg"]:
        r = report.get(name)
        if r is None:
            continue
        rows.append([name, f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1-score']:.4f}",
                     f"{int(r['support']):,}"])
    return format_table(["tag", "precision", "recall", "F1", "support"], rows, markdown=True)
