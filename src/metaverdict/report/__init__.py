"""Reports: plots (matplotlib) and HTML/Markdown evidence reports. No statistics are computed
here beyond drawing what :mod:`metaverdict.models` and :mod:`metaverdict.diagnostics` return."""
from metaverdict.report.build import build_report
from metaverdict.report.plots import (
    baujat_plot,
    drapery_plot,
    forest_plot,
    funnel_plot,
    radial_plot,
    time_course_plot,
)
from metaverdict.report.render import render_html, render_markdown, write_report

__all__ = ["baujat_plot", "build_report", "drapery_plot", "forest_plot", "funnel_plot",
           "radial_plot", "render_html", "render_markdown", "time_course_plot", "write_report"]
