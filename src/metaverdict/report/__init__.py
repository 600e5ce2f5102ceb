"""Reports: plots (matplotlib) and HTML/Markdown evidence reports. No statistics are computed
here beyond drawing what :mod:`metaverdict.models` and :mod:`metaverdict.diagnostics` return."""
from metaverdict.report.plots import (baujat_plot, drapery_plot, forest_plot, funnel_plot, radial_plot,
                                     time_course_plot)

__all__ = ["baujat_plot", "drapery_plot", "forest_plot", "funnel_plot", "radial_plot", "time_course_plot"]
