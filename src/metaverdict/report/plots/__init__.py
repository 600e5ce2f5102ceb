"""Plots of fitted meta-analyses (matplotlib): forest, funnel, Baujat, radial, drapery, GOSH,
likelihood-profile, normal Q-Q and L'Abbé plots.

Every function takes a fitted :class:`~metaverdict.MetaAnalysisResult` (the GOSH and profile
plots: the result of :func:`~metaverdict.gosh` / :func:`~metaverdict.likelihood_profile`),
draws into ``ax=`` or a new figure, and returns the :class:`matplotlib.figure.Figure`;
``save="plot.png"`` (or ``.svg``, ``.pdf``) writes it too. The numbers come from
:mod:`metaverdict.models` and :mod:`metaverdict.diagnostics`; nothing here fits a model.
"""
from metaverdict.report.plots.baujat import baujat_plot
from metaverdict.report.plots.drapery import drapery_plot
from metaverdict.report.plots.forest import forest_plot
from metaverdict.report.plots.funnel import funnel_plot
from metaverdict.report.plots.gosh import gosh_plot
from metaverdict.report.plots.labbe import labbe_plot, labbe_points
from metaverdict.report.plots.profile import profile_plot
from metaverdict.report.plots.qqnorm import qqnorm_plot
from metaverdict.report.plots.radial import radial_plot
from metaverdict.report.plots.time_course import time_course_plot

__all__ = ["baujat_plot", "drapery_plot", "forest_plot", "funnel_plot", "gosh_plot",
           "labbe_plot", "labbe_points", "profile_plot", "qqnorm_plot", "radial_plot",
           "time_course_plot"]
