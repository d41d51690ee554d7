"""Table writers shared by every paper table: one DataFrame → CSV, Markdown and LaTeX.

Published values live in ``config/paper_values/{target}.csv``: plain CSV, one row
per model (or setting), a ``source`` column naming the paper's table or figure.
Reproduced tables put our number and the published one side by side, so every
cell can be checked against the paper without a second file.
"""

from __future__ import annotations

import math
from html import escape
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pathfm.io import atomic_path

FORMATS = ("csv", "md", "tex")


def read_published(path: str | Path) -> pd.DataFrame:
    """A ``config/paper_values`` CSV; lines starting with ``#`` are comments."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"published values not found: {path} (see config/paper_values/)")
    # The first column names rows and stays text: "1e5" or "0" are labels, not numbers.
    first = pd.read_csv(path, comment="#", nrows=0).columns[0]
    return pd.read_csv(path, comment="#", dtype={first: str})


def mean_std(mean: float | None, std: float | None, digits: int = 3) -> str:
    """``0.876 (0.075)``, the papers' cell format; an em dash for a missing value."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({std:.{digits}f})"


def to_markdown(df: pd.DataFrame) -> str:
    """GitHub Markdown (no tabulate dependency): header, separator, one line per row."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                 ("#", r"\#"), ("—", "--")):
        text = text.replace(a, b)
    return text


def to_latex(df: pd.DataFrame, caption: str = "", label: str = "") -> str:
    """A booktabs ``table`` environment; cells escaped, numbers as formatted strings."""
    cols = [_tex_escape(str(c)) for c in df.columns]
    body = [" & ".join(_tex_escape(_cell(v)) for v in row) + r" \\"
            for row in df.itertuples(index=False)]
    lines = [r"\begin{table}[ht]", r"\centering", r"\begin{tabular}{l" + "c" * (len(cols) - 1) + "}",
             r"\toprule", " & ".join(cols) + r" \\", r"\midrule", *body, r"\bottomrule",
             r"\end{tabular}"]
    if caption:
        lines.append(r"\caption{" + _tex_escape(caption) + "}")
    if label:
        lines.append(r"\label{" + label + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_html(df: pd.DataFrame, caption: str = "") -> str:
    """A standalone HTML page: the caption, then the table, cells escaped (the report's view)."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    style = ("body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{style}</style></head>"
            f"<body><p>{escape(caption)}</p><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table></body></html>\n")


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def write_table(df: pd.DataFrame, paths: dict[str, str | Path] | str | Path,
                caption: str = "", label: str = "",
                formats: Sequence[str] = FORMATS) -> dict[str, Path]:
    """Write ``df`` to each format, atomically; ``paths`` is {format: path} or a stem
    (``results/tables/x`` → ``x.csv``, ``x.md``, ``x.tex``). Returns {format: path}."""
    if not isinstance(paths, dict):
        stem = Path(paths)
        paths = {fmt: stem.with_name(f"{stem.name}.{fmt}") for fmt in formats}
    unknown = set(paths) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown table format(s) {sorted(unknown)}; known: {FORMATS}")
    written = {}
    for fmt, path in paths.items():
        with atomic_path(path) as tmp:
            if fmt == "csv":
                df.to_csv(tmp, index=False)
            elif fmt == "md":
                text = (f"{caption}\n\n" if caption else "") + to_markdown(df)
                tmp.write_text(text)
            else:
                tmp.write_text(to_latex(df, caption, label))
        written[fmt] = Path(path)
    return written
