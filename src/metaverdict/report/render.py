"""Render a :class:`~metaverdict.report.document.ReportDocument` as HTML or Markdown.

HTML (``report.html.j2``) is one self-contained page: inline CSS, figures as inline SVG, no
scripts and no external assets, so it can be mailed or archived as a single file.

Markdown (``report.md.j2``) cannot hold SVG inline portably, so its figures are written as
SVG files into a folder next to the document, named after it (``report.md`` ->
``report_figures/<figure id>.svg``), and linked with relative paths; move the folder with the
file.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from metaverdict.errors import InputError
from metaverdict.evidence.vocabulary import bundled_vocabulary
from metaverdict.report.document import CATEGORY_CLASS, TONE_LEGEND, ReportDocument
from metaverdict.synthesis import SELECTION_RULE
from metaverdict.verdict import CATEGORY_DEFINITIONS

Format = Literal["html", "md"]
FORMATS: tuple[str, ...] = ("html", "md")


def _environment(autoescape: bool) -> Environment:
    env = Environment(loader=PackageLoader("metaverdict.report", "templates"),
                      autoescape=select_autoescape(["html.j2"]) if autoescape else False,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["md"] = markdown_cell
    env.filters["svg"] = lambda s: Markup(s)            # the figures' own markup, trusted
    env.filters["mdlink"] = _md_link_text
    env.filters["ucfirst"] = lambda t: str(t)[:1].upper() + str(t)[1:]
    env.filters["category_class"] = lambda c: CATEGORY_CLASS.get(c, "unclear")
    return env


def markdown_cell(text: object) -> str:
    """Text safe inside a Markdown table cell or list item: no pipes, no line breaks, no
    stray emphasis markers."""
    s = " ".join(str(text).split())
    return s.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_").replace("<", "&lt;")


def _md_link_text(text: object) -> str:
    return str(text).replace("[", "(").replace("]", ")")


def _legend() -> dict[str, object]:
    classes = bundled_vocabulary().data["comparators"].get("classes", {})
    return {"tone_legend": TONE_LEGEND, "category_definitions": tuple(CATEGORY_DEFINITIONS.items()),
            "comparator_classes": tuple(classes.items()), "selection_rule": SELECTION_RULE}


def render_html(doc: ReportDocument) -> str:
    """The report as one self-contained HTML page."""
    return _environment(True).get_template("report.html.j2").render(doc=doc, **_legend())


def figures_dir(path: str | Path) -> Path:
    """Folder for a Markdown report's figures: ``report.md`` -> ``report_figures``."""
    p = Path(path)
    return p.with_name(f"{p.stem}_figures")


def render_markdown(doc: ReportDocument, figures_folder: str = "report_figures") -> str:
    """The report as Markdown; figures are linked as ``<figures_folder>/<id>.svg``."""
    return _environment(False).get_template("report.md.j2").render(doc=doc,
                                                                   figdir=figures_folder,
                                                                   **_legend())


def standalone_svg(svg: str) -> str:
    """An inline figure as an SVG file: XML prolog, and its size back from the viewBox."""
    box = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    size = f' width="{box.group(1)}pt" height="{box.group(2)}pt"' if box else ""
    return ('<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
            + re.sub(r'\sstyle="[^"]*"', size, svg, count=1))


def write_report(doc: ReportDocument, path: str | Path, fmt: Format | None = None) -> list[Path]:
    """Write the report; returns the files written (the document first).

    Parameters
    ----------
    doc : ReportDocument
        From :func:`metaverdict.report.document.build_report`.
    path : str or path-like
        Output file. Its folder is created if missing.
    fmt : {"html", "md"}, optional
        Default: from the suffix (``.md``/``.markdown`` -> Markdown), else HTML.
    """
    p = Path(path)
    fmt = fmt or ("md" if p.suffix.lower() in (".md", ".markdown") else "html")
    if fmt not in FORMATS:
        raise InputError(f"option 'format': must be one of {', '.join(FORMATS)}, got {fmt!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        p.write_text(render_html(doc), encoding="utf-8")
        return [p]
    folder = figures_dir(p)
    folder.mkdir(exist_ok=True)
    written = [p]
    for fig in doc.figures:
        f = folder / f"{fig.id}.svg"
        f.write_text(standalone_svg(fig.svg), encoding="utf-8")
        written.append(f)
    p.write_text(render_markdown(doc, folder.name), encoding="utf-8")
    return written
