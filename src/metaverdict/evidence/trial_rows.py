"""Study-level results computed from one trial's participant data, as evidence-store rows.

:meth:`metaverdict.trials.TrialAnalysis.to_study_results` gives one row per outcome and visit
(the MMRM difference treatment - control with its CI, P-value and n per arm; measure MD).
:func:`study_result_rows` turns that frame into rows of the ``studies.csv`` layout
(:mod:`metaverdict.evidence.records`) for one source; :func:`import_study_results` writes them
through the ordinary validation, all or nothing, as a *new* source. Nothing here computes a
statistic: the numbers are copied as ``repr`` strings, so they read back exactly.

Provenance: the rows say that metaverdict computed them (the model, covariance structure and
df method, and the file name) in ``verbatim_quote`` (which is *not* a quotation from a
publication, and says so) and ``notes``; ``url_or_location`` names the file, never a local
path. Simulated data make a simulated source (column ``simulated``), whose citation starts
with :data:`SIMULATED_PREFIX`.

>>> import pandas as pd
>>> from metaverdict.evidence import open_store
>>> frame = pd.DataFrame({"outcome": ["soreness"], "visit": [1], "measure": ["MD"],
...     "yi": [1.5], "ci_lower": [0.5], "ci_upper": [2.5], "pvalue": [0.004],
...     "n_treatment": [28], "n_control": [34], "treatment": ["dry needling"],
...     "control": ["sham"], "simulated": [True]})
>>> rows = study_result_rows(frame, source_id="demo", citation="Demo trial.",
...     treatment="dry needling", comparator="sham", condition="post-marathon muscle soreness",
...     method="MMRM", file_name="demo.csv")
>>> r = rows[0]
>>> r["citation"], r["outcome"], r["timepoint"], r["estimate"], r["simulated"]
('SIMULATED: Demo trial.', 'pain (soreness)', 'day 1', '1.5', 'true')
>>> with open_store("sqlite://", seed=False) as store:
...     import_study_results(store, rows), store.results()[0].simulated
(1, True)
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from numbers import Real
from types import SimpleNamespace
from typing import Any

import pandas as pd

from metaverdict.errors import InputError
from metaverdict.evidence.io import import_rows
from metaverdict.evidence.store import Store
from metaverdict.evidence.vocabulary import TEXT_DOMAINS, Vocabulary, bundled_vocabulary

#: How the citation of a simulated source starts.
SIMULATED_PREFIX = "SIMULATED: "
#: Outcome domains the vocabulary reads from an outcome's text (``--outcome-domain``).
OUTCOME_DOMAINS: tuple[str, ...] = TEXT_DOMAINS
#: Units of a numeric visit (``--visit-unit``): visit 1 in days is the timepoint "day 1".
VISIT_UNITS: tuple[str, ...] = ("day", "week", "month")
FRAME_COLUMNS: tuple[str, ...] = ("outcome", "visit", "measure", "yi", "ci_lower", "ci_upper",
                                  "pvalue", "n_treatment", "n_control", "treatment", "control")


def outcome_text(name: str, domain: str | None = None,
                 vocabulary: Vocabulary | None = None) -> str:
    """The store's outcome text for a trial outcome: ``"<domain in words> (<name>)"``.

    Parameters
    ----------
    name : str
        The outcome as the participant data name it (``"soleus soreness"``).
    domain : str, optional
        One of :data:`OUTCOME_DOMAINS`; default: the domain the vocabulary reads from
        ``name`` (``soreness`` -> ``pain``).
    vocabulary : Vocabulary, optional

    Raises
    ------
    InputError
        When no domain is given and none can be read from the name, or the domain is unknown.

    Examples
    --------
    >>> outcome_text("soleus soreness"), outcome_text("SF-36", "quality-of-life")
    ('pain (soleus soreness)', 'quality of life (SF-36)')
    """
    vocab = vocabulary or bundled_vocabulary()
    if domain is None:
        found = vocab.domain_of(name)
        if found not in OUTCOME_DOMAINS:
            raise InputError(f"outcome {name!r}: cannot tell its outcome domain from the name; "
                             f"give --outcome-domain (one of {', '.join(OUTCOME_DOMAINS)})")
        domain = found
    if domain not in OUTCOME_DOMAINS:
        raise InputError(f"option '--outcome-domain': must be one of "
                         f"{', '.join(OUTCOME_DOMAINS)}, got {domain!r}")
    text = f"{domain.replace('-', ' ')} ({name.strip()})"
    read = vocab.domain_of(text)
    if read != domain:
        raise InputError(f"outcome {name!r}: its name reads as outcome domain {read!r}, not "
                         f"{domain!r}; rename the outcome in the data or choose another "
                         "--outcome-domain")
    return text


def timepoint_text(visit: Any, unit: str = "day", vocabulary: Vocabulary | None = None) -> str:
    """The store's timepoint for a visit: a number is ``"<unit> <n>"`` (``day 1``), a label is
    kept (``"12 weeks"``).

    Raises
    ------
    InputError
        For an unknown unit, or a label the vocabulary cannot place in time.

    Examples
    --------
    >>> timepoint_text(1), timepoint_text(4, "week"), timepoint_text("12 weeks")
    ('day 1', 'week 4', '12 weeks')
    """
    if unit not in VISIT_UNITS:
        raise InputError(f"option '--visit-unit': must be one of {', '.join(VISIT_UNITS)}, "
                         f"got {unit!r}")
    vocab = vocabulary or bundled_vocabulary()
    if isinstance(visit, Real) and not isinstance(visit, bool):
        x = float(visit)
        if not math.isfinite(x) or x < 0:
            raise InputError(f"visit {visit!r}: must be a number of {unit}s >= 0")
        text = f"{unit} {x:g}"
    else:
        text = str(visit).strip()
    if vocab.timepoint(text).window in ("unspecified", "baseline"):
        raise InputError(f"visit {text!r}: not a follow-up time the vocabulary can read; give "
                         "visits as numbers (with --visit-unit) or as labels such as "
                         "'4 weeks' or 'day 3'")
    return text


def _num(x: Any) -> str:
    return repr(float(x))


def _fmt(x: float) -> str:
    return f"{x:.4g}".replace("-", "\u2212")


def study_result_rows(frame: pd.DataFrame, *, source_id: str, citation: str, treatment: str,
                      comparator: str, condition: str, method: str, file_name: str,
                      doi: str | None = None, simulated: bool | None = None,
                      outcomes: Mapping[str, str] | None = None,
                      outcome_domain: str | None = None, visit_unit: str = "day",
                      lower_is_better: bool = True, comparator_name: str | None = None,
                      level: float = 0.95, tool: str = "metaverdict",
                      vocabulary: Vocabulary | None = None) -> list[dict[str, str]]:
    """Rows in the ``studies.csv`` layout for a trial's study-level results (one source).

    Parameters
    ----------
    frame : DataFrame
        :attr:`metaverdict.trials.StudyResults.frame`: columns :data:`FRAME_COLUMNS` (and
        ``simulated``), one row per outcome and visit, measure ``MD``.
    source_id, citation, treatment, comparator, condition : str
        The source key and citation, and the vocabulary's treatment, comparator (``sham``,
        ``placebo``, ``no-treatment``, ``usual-care``, ``other``) and condition terms.
    method : str
        How the numbers were computed (e.g. ``"MMRM value ~ baseline + arm * visit,
        unstructured covariance, Kenward-Roger df"``), stated in every row.
    file_name : str
        The participant-data file (its name, not a local path).
    doi : str, optional
    simulated : bool, optional
        Whether the data are simulated; default: the frame's ``simulated`` column. A simulated
        source's citation is prefixed with :data:`SIMULATED_PREFIX`.
    outcomes : mapping, optional
        Outcome name in the data -> the store's outcome text; default :func:`outcome_text`
        with ``outcome_domain``.
    outcome_domain : str, optional
        One of :data:`OUTCOME_DOMAINS` (default: read from each outcome's name).
    visit_unit : str
        Unit of numeric visits (:data:`VISIT_UNITS`; default ``day``).
    lower_is_better : bool
        Direction of the outcomes (pain: True).
    comparator_name : str, optional
        What the control arm was (default: the comparator term).
    level : float
        Confidence level of the frame's CIs (stated in the quote).
    tool : str
        Who computed the numbers (stated in the rows; default ``metaverdict``).
    vocabulary : Vocabulary, optional

    Returns
    -------
    list of dict
        One row per frame row, all strings, for :func:`import_study_results`.

    Raises
    ------
    InputError
        A missing frame column, no rows, a measure other than MD, an outcome or visit the
        vocabulary cannot read, or a non-finite number (the message names the outcome and
        visit).
    """
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"study results: missing column(s) {', '.join(map(repr, missing))}")
    if frame.empty:
        raise InputError("study results: no outcome and visit with an estimated difference")
    vocab = vocabulary or bundled_vocabulary()
    if simulated is None:
        simulated = bool(frame["simulated"].astype(bool).any()) if "simulated" in frame else False
    cite = citation.strip()
    if simulated and not cite.upper().startswith(SIMULATED_PREFIX.strip().upper()):
        cite = SIMULATED_PREFIX + cite
    texts = dict(outcomes or {})
    sim_words = "SIMULATED participant data, not a real trial's results: " if simulated else ""
    location = (f"participant-level data file {file_name!r} ({'SIMULATED; ' if simulated else ''}"
                f"study-level results computed by {tool}, not read from a publication)")
    pct = f"{level * 100:g}%"
    rows = []
    for rec in frame.to_dict("records"):
        r = SimpleNamespace(**{str(k): v for k, v in rec.items()})
        visit = r.visit.item() if hasattr(r.visit, "item") else r.visit
        where = f"outcome {r.outcome!r}, visit {visit!r}"
        if str(r.measure) != "MD":
            raise InputError(f"study results, {where}: measure must be MD, got {r.measure!r}")
        values = (r.yi, r.ci_lower, r.ci_upper, r.pvalue)
        if not all(isinstance(v, Real) and math.isfinite(float(v)) for v in values):
            raise InputError(f"study results, {where}: estimate, CI and P-value must be finite "
                             f"numbers, got {values!r}")
        name = str(r.outcome)
        if name not in texts:
            texts[name] = outcome_text(name, outcome_domain, vocab)
        tp = timepoint_text(visit, visit_unit, vocab)
        arms = f"{r.treatment} \u2212 {r.control}"
        quote = (f"Not a quotation: {sim_words}computed by {tool} from participant-level data "
                 f"({file_name}) with {method}. {name}, {tp}: difference {arms} "
                 f"{_fmt(float(r.yi))} ({pct} CI {_fmt(float(r.ci_lower))} to "
                 f"{_fmt(float(r.ci_upper))}), P = {float(r.pvalue):.3g}; n = "
                 f"{int(r.n_treatment)} ({r.treatment}) vs {int(r.n_control)} ({r.control}).")
        notes = (f"{sim_words}numbers computed by {tool} from the participant data in "
                 f"{file_name} ({method}); arms: {r.treatment} (treatment) vs {r.control} "
                 f"(control); outcome {name!r} at visit {visit!r}. Estimate = LS-mean "
                 f"difference treatment minus control; CI and P from the model.")
        rows.append({
            "source_id": source_id, "citation": cite, "doi": doi or "", "design": "rct",
            "treatment": treatment, "comparator": comparator, "condition": condition,
            "outcome": texts[name], "timepoint": tp,
            "effect_measure": "MD (MMRM LS-mean difference)",
            "estimate": _num(r.yi), "ci_lower": _num(r.ci_lower), "ci_upper": _num(r.ci_upper),
            "n_treatment": str(int(r.n_treatment)), "n_control": str(int(r.n_control)),
            "p_value": _num(r.pvalue), "url_or_location": location, "verbatim_quote": quote,
            "notes": notes, "kind": "primary", "study": source_id,
            "comparator_name": comparator_name or "",
            "sign_convention": "treatment-minus-comparator",
            "sign_reason": f"computed as {arms} by {tool}",
            "lower_is_better": "true" if lower_is_better else "false",
            "simulated": "true" if simulated else "false",
        })
    return rows


def import_study_results(store: Store, rows: list[dict[str, str]]) -> int:
    """Import :func:`study_result_rows` as the results of new sources, all or nothing.

    Returns
    -------
    int
        Number of results written.

    Raises
    ------
    InputError
        A row that fails validation, or a source_id the store already holds (importing the
        same trial twice); nothing is written.
    """
    return import_rows(store, rows, new_sources=True)


def one_line(message: str) -> str:
    """An import error on one line: the first problem, then how many there were.

    >>> one_line("2 problem(s) in the input; nothing was imported:\\nrow 1, column 'x': bad"
    ...          "\\nrow 2, column 'x': bad")
    "row 1, column 'x': bad (2 problem(s) in the input; nothing was imported)"
    """
    lines = [s for s in message.splitlines() if s.strip()]
    if len(lines) <= 1:
        return message.strip()
    head = re.sub(r":\s*$", "", lines[0])
    return f"{lines[1]} ({head})"
