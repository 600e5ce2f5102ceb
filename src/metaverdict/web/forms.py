"""The editors' form: the fields of the ``studies.csv`` layout, grouped, with labels and help.

The form submits exactly the CSV columns, so a form row and an uploaded CSV row go through
the same validation (:func:`metaverdict.evidence.io.validate_rows`).

>>> [f.name for f in FORM_GROUPS[0].fields]
['source_id', 'citation', 'doi', 'design', 'url_or_location']
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from metaverdict.evidence.models import COMPARATOR_CLASSES, DIRECTIONS_REPORTED, SIGN_CONVENTIONS
from metaverdict.evidence.records import RESULT_DESIGNS


@dataclass(frozen=True)
class FormField:
    """One input: the CSV column it fills, its label, help text, and choices (a select)."""

    name: str
    label: str
    help: str = ""
    choices: tuple[str, ...] = ()
    long: bool = False
    required: bool = False


@dataclass(frozen=True)
class FormGroup:
    """A fieldset of the form."""

    title: str
    fields: tuple[FormField, ...]
    source: bool = False
    advanced: bool = False


F = FormField
COMPARATORS = ("sham", "placebo", "no-treatment", "usual-care", "other-active")
FORM_GROUPS: tuple[FormGroup, ...] = (
    FormGroup("Study", (
        F("source_id", "Key", "a short unique name, e.g. smith2024", required=True),
        F("citation", "Citation", "authors, year, title, journal", required=True),
        F("doi", "DOI", "e.g. 10.1016/j.jphys.2021.01.001"),
        F("design", "Design", "", RESULT_DESIGNS, required=True),
        F("url_or_location", "Where it was read", "URL, or page and table", required=True),
    ), source=True),
    FormGroup("Comparison", (
        F("treatment", "Treatment", "e.g. dry needling", required=True),
        F("comparator", "Comparator kind", "", COMPARATORS, required=True),
        F("comparator_name", "Comparator", "what the control arm got, e.g. sham needling"),
        F("condition", "Condition", "e.g. neck pain", required=True),
        F("outcome", "Outcome", "e.g. pain (VAS, 0-10)", required=True),
        F("timepoint", "Timepoint", "e.g. 4 weeks, day 2, 6 months", required=True),
    )),
    FormGroup("Numbers as reported", (
        F("effect_measure", "Effect measure", "MD, SMD, RR, OR, RD ...", required=True),
        F("estimate", "Estimate"), F("ci_lower", "95% CI lower"), F("ci_upper", "95% CI upper"),
        F("p_value", "P-value", "e.g. 0.03 or <0.001"),
        F("n_treatment", "n treatment"), F("n_control", "n comparator"),
        F("mean_treatment", "Mean, treatment"), F("sd_treatment", "SD, treatment"),
        F("mean_control", "Mean, comparator"), F("sd_control", "SD, comparator"),
        F("k_studies", "Studies pooled (k)"), F("i2", "I\u00b2 (%)"),
    )),
    FormGroup("Provenance", (
        F("verbatim_quote", "Verbatim quote", "the source's words that hold the numbers "
          "(required when a number is given)", long=True),
        F("certainty", "Risk of bias / certainty", "e.g. PEDro 7/10, or the review's GRADE"),
        F("notes", "Notes", long=True),
    )),
    FormGroup("More (optional)", (
        F("kind", "Kind", "primary (a trial) or review", ("", "primary", "review")),
        F("study", "Trial label"),
        F("sign_convention", "Sign convention", "", ("", *SIGN_CONVENTIONS)),
        F("sign_reason", "Why that sign"),
        F("direction_reported", "Direction stated", "", ("", *DIRECTIONS_REPORTED)),
        F("direction_reason", "Words stating it"),
        F("lower_is_better", "Lower is better", "", ("", "true", "false")),
        F("comparator_class", "Comparator class", "", ("", *COMPARATOR_CLASSES)),
        F("data_problem", "Known data problem"), F("evidence_about", "Evidence about"),
        F("stated_mid", "Minimal important difference stated"),
        F("stated_mid_text", "Its words"),
    ), advanced=True),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for g in FORM_GROUPS for f in g.fields)
_COLUMN = re.compile(r"\b(?:field|column)s? '([a-z_0-9]+)'")


def fields_in_error(errors: list[str]) -> set[str]:
    """The fields named by error messages (to mark them in the form)."""
    return {m for e in errors for m in _COLUMN.findall(e)}
