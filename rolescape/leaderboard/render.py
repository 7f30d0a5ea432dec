"""Render a `Leaderboard` as Markdown, LaTeX, CSV or parquet (long format) or a self-contained HTML page.

Every string that can come from a user (model names, characters, metric names, reasons, notes) goes
through the one escaping function of its format: `md_escape`, `tex_escape` (and `tex_comment` in
comment lines), the csv module's quoting, `html.escape`; plots use `plots.mpl_text`.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections.abc import Callable

from rolescape.leaderboard.tables import Cell, Leaderboard, Table

DAGGER = "†"


def _meta_line(lb: Leaderboard) -> str:
    rs = lb.runset
    parts = [
        f"protocol {', '.join(rs.protocol_versions)}",
        f"dataset manifest {', '.join(m[:12] for m in rs.manifests)}",
        f"profile {', '.join(rs.profiles)}",
        f"{len(rs.runs)} run{'s' if len(rs.runs) != 1 else ''}",
    ]
    return " · ".join(parts)


def _runs_table(lb: Leaderboard) -> tuple[list[str], list[list[str]]]:
    head = ["Model", "Profile", "Predictions sha256", "rolescape", "git", "Per-item log"]
    rows = []
    for r in lb.runs:
        res = r.results
        rows.append(
            [
                r.label,
                res.config.profile,
                res.config.predictions_sha256[:12],
                res.provenance.rolescape_version,
                (res.provenance.git_hash or "—")[:10],
                "yes" if r.has_items else "no",
            ]
        )
    return head, rows


def _sections(lb: Leaderboard) -> list[tuple[str, list[Table]]]:
    return [("Overall", [lb.overall]), ("Tasks", lb.tasks), ("Per character", lb.characters)]


# -- Markdown ------------------------------------------------------------------------------------------
_MD_HTML = re.compile(r"<(?=[A-Za-z/!?])|&(?=[A-Za-z#])")  # what would open a tag, comment or entity


def md_escape(s: str) -> str:
    """Text for one Markdown table cell or list item: no line break, no `|` column split, and no raw
    HTML (a `<` that could open a tag and an `&` that could open an entity become entities)."""
    s = " ".join(s.splitlines())
    s = s.replace("\\", "\\\\").replace("|", "\\|")
    return _MD_HTML.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", s)


def _md_cell(c: Cell, reported: bool) -> str:
    num = c.number()
    if c.value is not None and c.best and not reported:
        num = f"**{num}**"
    if reported and c.value is not None:
        num = f"_{num}_"
    if c.significant:
        num += DAGGER
    ci = c.interval()
    return f"{num} {ci}" if ci else num


def _md_header(col_title: str, sub: str) -> str:
    return f"{col_title} ({sub})" if sub else col_title


def _md_table(t: Table) -> list[str]:
    heads = [*t.stub_headers, *(_md_header(c.title, c.sub) for c in t.columns)]
    align = ["---:" if h == "Rank" else "---" for h in t.stub_headers] + ["---:"] * len(t.columns)
    out = ["| " + " | ".join(md_escape(h) for h in heads) + " |", "|" + "|".join(align) + "|"]
    for row in t.rows:
        stub = [md_escape(s) for s in row.stub]
        if row.reported:
            stub[-1] = f"_{stub[-1]}_"
        out.append("| " + " | ".join([*stub, *(_md_cell(c, row.reported) for c in row.cells)]) + " |")
    return out


def render_markdown(lb: Leaderboard) -> str:
    lines = ["# RoleScape leaderboard", "", md_escape(_meta_line(lb)), ""]
    head, rows = _runs_table(lb)
    lines += ["## Runs", "", "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    lines += ["| " + " | ".join(md_escape(x) for x in r) + " |" for r in rows]
    lines.append("")
    for section, tables in _sections(lb):
        if not tables:
            continue
        lines += [f"## {section}", ""]
        for t in tables:
            if section != "Overall":
                lines += [f"### {md_escape(t.title)}", ""]
            lines += _md_table(t)
            lines.append("")
            lines += [f"- {md_escape(n)}" for n in t.notes]
            lines.append("")
    lines += ["## Notes", ""] + [f"- {md_escape(n)}" for n in lb.notes] + [""]
    return "\n".join(lines)


# -- LaTeX ---------------------------------------------------------------------------------------------
_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "—": "---",
    "†": r"$^\dagger$",
    "·": r"$\cdot$",
    "→": r"$\rightarrow$",
    "-": "-",
}


def tex_escape(s: str) -> str:
    """Text for a LaTeX table cell or caption: specials escaped, line breaks (a blank line would end
    the paragraph inside a tabular) turned into spaces."""
    return "".join(_TEX.get(ch, ch) for ch in " ".join(s.splitlines()))


def tex_comment(s: str) -> str:
    """Text after `%`: a line break would end the comment and let the rest be read as LaTeX."""
    return " ".join(s.splitlines())


def _tex_cell(c: Cell, reported: bool) -> str:
    num = tex_escape(c.number())
    if c.value is not None and c.best and not reported:
        num = rf"\textbf{{{num}}}"
    if reported and c.value is not None:
        num = rf"\textit{{{num}}}"
    if c.significant:
        num += r"$^\dagger$"
    ci = c.interval()
    return rf"{num}\,{{\scriptsize {ci}}}" if ci else num


def _tex_table(t: Table) -> list[str]:
    spec = "".join("r" if h == "Rank" else "l" for h in t.stub_headers) + "r" * len(t.columns)
    out = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex_escape(t.title)}}}",
        rf"\label{{tab:rolescape-{t.key}}}",
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join([*(tex_escape(h) for h in t.stub_headers), *(tex_escape(c.title) for c in t.columns)])
        + r" \\",
    ]
    if any(c.sub for c in t.columns):
        subs = [""] * len(t.stub_headers) + [
            rf"\texttt{{{tex_escape(c.sub)}}}" if c.sub else "" for c in t.columns
        ]
        out.append(" & ".join(subs) + r" \\")
    out.append(r"\midrule")
    for row in t.rows:
        stub = [tex_escape(s) for s in row.stub]
        if row.reported:
            out.append(r"\midrule")
            stub[-1] = rf"\textit{{{stub[-1]}}}"
        out.append(" & ".join([*stub, *(_tex_cell(c, row.reported) for c in row.cells)]) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}}"]
    if t.notes:
        out.append(r"\par\smallskip{\footnotesize " + " ".join(tex_escape(n) for n in t.notes) + "}")
    out.append(r"\end{table}")
    return out


def render_latex(lb: Leaderboard) -> str:
    lines = [
        "% RoleScape leaderboard, generated by `rolescape leaderboard`.",
        r"% Requires \usepackage{booktabs,graphicx}.",
        "% " + tex_comment(_meta_line(lb).replace("·", "|")),
        "",
    ]
    for _, tables in _sections(lb):
        for t in tables:
            lines += _tex_table(t)
            lines.append("")
    lines.append("% Notes:")
    lines += [f"% - {tex_comment(n)}" for n in lb.notes]
    lines.append("")
    return "\n".join(lines)


# -- CSV -----------------------------------------------------------------------------------------------
CSV_FIELDS = [
    "section",
    "task",
    "metric",
    "model",
    "reported",
    "character",
    "mean",
    "ci_low",
    "ci_high",
    "n",
    "rank",
    "best",
    "p_value_vs_best",
    "significant",
    "coverage",
    "source",
]


def _csv_column(values: list[object], dtype: str) -> list[str]:
    """One column of the long table as CSV text: a float rounded to 6 places, a bool lower case, null
    empty. By the column's declared dtype, so that no cell is inspected on its own."""
    if dtype == "Float64":
        return ["" if v is None else repr(round(v, 6)) for v in values]  # type: ignore[call-overload]
    if dtype == "Boolean":
        return ["" if v is None else ("true" if v else "false") for v in values]
    return ["" if v is None else str(v) for v in values]


def render_csv(lb: Leaderboard) -> str:
    """Long format: one row per (run, task, metric) and per (run, task, metric, character)."""
    from rolescape.analysis.frames import LONG_SCHEMA, long_frame

    frame = long_frame(lb)
    cols = [_csv_column(frame[c].to_list(), LONG_SCHEMA[c]) for c in CSV_FIELDS]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    w.writerows(zip(*cols, strict=True))
    return buf.getvalue()


def render_parquet(lb: Leaderboard) -> bytes:
    """The long table of `render_csv`, typed (`rolescape.analysis.frames.LONG_SCHEMA`), plus `partial`."""
    from rolescape.analysis.frames import long_frame

    buf = io.BytesIO()
    long_frame(lb).write_parquet(buf, compression="zstd", statistics=False)
    return buf.getvalue()


# -- HTML ----------------------------------------------------------------------------------------------
CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:2rem auto;max-width:1200px;
color:#1b1f24;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
h3{margin-top:1.6rem}.meta{color:#57606a}
.scroll{overflow-x:auto}
table.lb{border-collapse:collapse;font-size:.88rem;margin:.6rem 0}
table.lb th,table.lb td{padding:.25rem .55rem;border-bottom:1px solid #e3e6ea;white-space:nowrap}
table.lb th{background:#f6f8fa;text-align:center;vertical-align:bottom}
table.lb th .sub{display:block;font-weight:normal;font-family:monospace;color:#57606a}
table.lb td.num{text-align:right;font-variant-numeric:tabular-nums}
table.lb td.best{background:#e6f4ea}
table.lb .ci{color:#6e7781;font-size:.8em}
table.lb tr.reported td{font-style:italic;color:#57606a;border-top:2px solid #afb8c1}
ul.notes{font-size:.82rem;color:#3d444d}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
"""


def _html_cell(c: Cell, reported: bool) -> str:
    classes = ["num"]
    num = html.escape(c.number())
    if c.value is not None and c.best and not reported:
        classes.append("best")
        num = f"<b>{num}</b>"
    if c.significant:
        classes.append("sig")
        num += f"<sup>{DAGGER}</sup>"
    title = ""
    if c.test is not None:
        title = f' title="p = {c.test.p_value:.4f} vs best, difference {c.test.delta:+.4f} on {c.test.n_common} items"'
    ci = c.interval()
    ci_html = f' <span class="ci">{html.escape(ci)}</span>' if ci else ""
    return f'<td class="{" ".join(classes)}"{title}>{num}{ci_html}</td>'


def _html_table(t: Table) -> list[str]:
    out = [f'<div class="scroll"><table class="lb" id="table-{html.escape(t.key)}">', "<thead><tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in t.stub_headers]
    for c in t.columns:
        sub = f'<span class="sub">{html.escape(c.sub)}</span>' if c.sub else ""
        out.append(f"<th>{html.escape(c.title)}{sub}</th>")
    out.append("</tr></thead><tbody>")
    for row in t.rows:
        cls = ' class="reported"' if row.reported else ""
        stub = "".join(f"<td>{html.escape(s)}</td>" for s in row.stub)
        out.append(
            f'<tr{cls} data-key="{html.escape(row.key)}">{stub}'
            + "".join(_html_cell(c, row.reported) for c in row.cells)
            + "</tr>"
        )
    out.append("</tbody></table></div>")
    return out


def render_html(lb: Leaderboard, plots: dict[str, bytes] | None = None) -> str:
    """One self-contained page: inline CSS, plots embedded as data: URIs, no scripts, no network."""
    plots = plots or {}

    def figure(name: str | None, alt: str) -> list[str]:
        if not name or name not in plots:
            return []
        uri = "data:image/png;base64," + base64.b64encode(plots[name]).decode("ascii")
        return [f'<figure><img src="{uri}" alt="{html.escape(alt)}"></figure>']

    esc: Callable[[str], str] = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>RoleScape leaderboard</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<h1>RoleScape leaderboard</h1>",
        f'<p class="meta">{esc(_meta_line(lb))}</p>',
    ]
    head, rows = _runs_table(lb)
    out += ['<h2 id="runs">Runs</h2>', '<div class="scroll"><table class="lb" id="table-runs"><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in head] + ["</tr></thead><tbody>"]
    out += ["<tr>" + "".join(f"<td>{esc(x)}</td>" for x in r) + "</tr>" for r in rows]
    out.append("</tbody></table></div>")
    for section, tables in _sections(lb):
        if not tables:
            continue
        out.append(f'<h2 id="{esc(section.lower().replace(" ", "-"))}">{esc(section)}</h2>')
        for t in tables:
            out.append(f'<section id="{esc(t.key)}">')
            if section != "Overall":
                out.append(f"<h3>{esc(t.title)}</h3>")
            out += _html_table(t)
            if t.notes:
                out.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in t.notes) + "</ul>")
            out += figure(t.plot, t.title)
            out.append("</section>")
    out += ['<h2 id="notes">Notes</h2>', '<ul class="notes">'] + [f"<li>{esc(n)}</li>" for n in lb.notes]
    out += ["</ul>", "</body>", "</html>", ""]
    return "\n".join(out)
