"""A report as a list of blocks, rendered to Markdown or to one self-contained HTML file.

The HTML embeds every figure as a base64 PNG and makes every table sortable by
clicking a header (inline JavaScript, no network access).
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["Block", "bullets", "figure", "fmt", "heading", "markdown_table", "note", "table", "text",
           "to_html", "to_markdown"]

_CI_CELL = re.compile(r"^\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s+\[")


@dataclass(frozen=True, eq=False)
class Block:
    """One piece of a report.

    Attributes:
        kind: ``heading``, ``text``, ``bullets``, ``table``, ``figure`` or ``note``.
        text: heading/paragraph/note text (Markdown inline code in backticks), or a
            figure's alt text.
        level: heading level.
        items: bullet items.
        frame: the table of a ``table`` block.
        path: the PNG of a ``figure`` block.
        caption: text under a figure.
    """

    kind: str
    text: str = ""
    level: int = 2
    items: tuple[str, ...] = field(default_factory=tuple)
    frame: pd.DataFrame | None = None
    path: Path | None = None
    caption: str = ""


def heading(text_: str, level: int = 2) -> Block:
    """A heading block."""
    return Block("heading", text_, level=level)


def text(text_: str) -> Block:
    """A paragraph block."""
    return Block("text", text_)


def bullets(items: list[str]) -> Block:
    """A bullet-list block."""
    return Block("bullets", items=tuple(items))


def table(frame: pd.DataFrame) -> Block:
    """A table block (index dropped)."""
    return Block("table", frame=frame)


def figure(path: Path, alt: str, caption: str = "") -> Block:
    """A figure block: a PNG next to the report."""
    return Block("figure", alt, path=Path(path), caption=caption)


def note(text_: str) -> Block:
    """An italic remark, e.g. why a figure was skipped."""
    return Block("note", text_)


def fmt(v: object, digits: int = 4) -> str:
    """A table cell: floats to ``digits`` significant digits, missing values as ``–``."""
    if isinstance(v, float):
        return "–" if pd.isna(v) else f"{v:.{digits}g}"
    return "–" if v is None or v is pd.NA else str(v)


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (index dropped)."""
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(fmt(v, digits) for v in row) + " |"
            for row in frame.astype(object).itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _markdown(block: Block) -> str:
    if block.kind == "heading":
        return "#" * block.level + " " + block.text
    if block.kind == "bullets":
        return "\n".join(f"- {item}" for item in block.items)
    if block.kind == "table":
        return markdown_table(block.frame)
    if block.kind == "figure":
        image = f"![{block.text}]({block.path.name})"
        return f"{image}\n\n*{block.caption}*" if block.caption else image
    if block.kind == "note":
        return f"_{block.text}_"
    return block.text


def to_markdown(blocks: list[Block]) -> str:
    """The report as Markdown; figures are linked relatively (``![alt](name.png)``)."""
    return "\n\n".join(_markdown(b) for b in blocks) + "\n"


def _inline(text_: str) -> str:
    """Escape HTML, then turn Markdown backticks into ``<code>``."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text_, quote=False))


def _sort_attr(v: object) -> str:
    """``data-v`` (numeric sort key) or ``data-missing`` of a table cell."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or v == "–":
        return " data-missing"
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return f' data-v="{float(v)!r}"'
    match = _CI_CELL.match(str(v))
    return f' data-v="{float(match.group(1))!r}"' if match else ""


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f'<th scope="col" title="click to sort">{html.escape(str(c))}</th>'
                   for c in frame.columns)
    rows = ["<tr>" + "".join(f"<td{_sort_attr(v)}>{html.escape(fmt(v))}</td>" for v in row) + "</tr>"
            for row in frame.astype(object).itertuples(index=False)]
    return (f'<table class="sortable"><thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table>")


def _html_figure(block: Block) -> str:
    data = base64.b64encode(block.path.read_bytes()).decode("ascii")
    cap = f"<figcaption>{_inline(block.caption)}</figcaption>" if block.caption else ""
    return (f'<figure><img alt="{html.escape(block.text)}" data-name="{html.escape(block.path.name)}" '
            f'src="data:image/png;base64,{data}">{cap}</figure>')


def _html(block: Block) -> str:
    if block.kind == "heading":
        return f"<h{block.level}>{_inline(block.text)}</h{block.level}>"
    if block.kind == "bullets":
        return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>"
    if block.kind == "table":
        return _html_table(block.frame)
    if block.kind == "figure":
        return _html_figure(block)
    if block.kind == "note":
        return f"<p><em>{_inline(block.text)}</em></p>"
    return f"<p>{_inline(block.text)}</p>"


STYLE = """body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f0f0f0;cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" ▲"}
th[aria-sort=descending]::after{content:" ▼"}tbody tr:nth-child(even){background:#fafafa}
figure{margin:1em 0}img{max-width:100%}figcaption{font-size:13px;color:#444}code{background:#f4f4f4;padding:0 3px}"""

SCRIPT = """document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], col = th.cellIndex;
  const asc = th.getAttribute("aria-sort") !== "ascending";
  for (const h of th.parentNode.cells) h.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  const key = r => { const c = r.cells[col];
    return "v" in c.dataset ? [0, +c.dataset.v] : "missing" in c.dataset ? [2, 0] : [1, c.textContent]; };
  const rows = [...body.rows].sort((a, b) => { const x = key(a), y = key(b);
    if (x[0] !== y[0]) return x[0] - y[0];
    return (asc ? 1 : -1) * (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0); });
  body.append(...rows);
}));"""


def to_html(blocks: list[Block], title: str) -> str:
    """The report as one self-contained HTML page (figures inline, sortable tables)."""
    body = "\n".join(_html(b) for b in blocks)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n{body}\n"
            f"<script>\n{SCRIPT}\n</script>\n</body></html>\n")
