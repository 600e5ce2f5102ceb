"""GRADE-style informative statements for verdicts.

Certainty sets the modal verb (GRADE's informative statements, Santesso et al. 2020):
high "reduces", moderate "probably reduces", low "may reduce", very low "the evidence is very
uncertain about the effect of ...". The category sets the verb and its qualifier:

* important benefit / harm: "reduces pain" / "increases pain" for domains that name something
  to have less of (pain, cramping, adverse events, recurrence, tenderness), otherwise
  "improves function" / "worsens function" (whichever way the instrument's scale runs);
* below the MCID: the same verb with "slightly (less than the MCID)";
* no important difference: "results in little to no difference in";
* inconclusive: "it is uncertain whether ... changes ... by an important amount", with the
  rule that made it inconclusive.

Every sentence ends with the effect and the MCID, so a report can print it as is.
"""
from __future__ import annotations

from metaverdict.grade.levels import Level
from metaverdict.verdict.record import Verdict
from metaverdict.verdict.rules import Category, Direction

#: Modal verb and third-person suffix per level (very low is worded on its own).
_MODAL = {Level.HIGH: ("", "s"), Level.MODERATE: ("probably ", "s"), Level.LOW: ("may ", "")}
_PREFIX = {Level.HIGH: "High-certainty evidence shows that",
           Level.MODERATE: "Moderate-certainty evidence shows that",
           Level.LOW: "Low-certainty evidence suggests that"}


#: Outcome domains that name something to have less of: "reduces"/"increases" pain. Every
#: other domain (function, quality of life, ...) "improves"/"worsens", whatever the direction
#: of its scale: a disability score that falls is function that improves.
LESS_IS_BETTER_DOMAINS = frozenset({"pain", "cramping", "adverse-events", "recurrence",
                                    "tenderness"})


#: Display words for outcome domains.
OUTCOME_WORDS = {"adverse-events": "adverse events", "treatment-success": "treatment success",
                 "global-improvement": "global improvement",
                 "pressure-pain-threshold": "pressure-pain threshold",
                 "range-of-motion": "range of motion", "grip-strength": "grip strength",
                 "quality-of-life": "quality of life", "multiple": "several outcomes"}


def outcome_words(outcome: str) -> str:
    """``adverse-events`` -> ``adverse events``."""
    return OUTCOME_WORDS.get(outcome, outcome)


def _verbs(outcome: str) -> tuple[str, str]:
    """Base verbs (benefit, harm) for an outcome domain."""
    return ("reduce", "increase") if outcome in LESS_IS_BETTER_DOMAINS else ("improve", "worsen")


def _third(verb: str) -> str:
    return verb + "s"


#: Comparator classes against which a "harm" means the comparator did better, not that the
#: patient was harmed.
ACTIVE_CLASSES = frozenset({"active", "technique", "mixed", "usual-care"})


def _context(v: Verdict) -> str:
    body = v.body
    comp = body.comparator_name if body and body.comparator_name else v.claim.comparator
    return f"compared with {comp} in {v.claim.condition} ({v.timepoint or v.claim.window})"


def _phrase(outcome_domain: str, category: Category, comparator_class: str, modal: str,
            third_person: bool, full: bool) -> str:
    """The verb phrase for a category: "may reduce pain slightly", "probably results in
    little to no difference in pain", "is probably less effective for pain than the
    comparator". ``full`` adds the MCID wording of a sentence; without it the phrase is a
    headline's."""
    good, bad = _verbs(outcome_domain)
    outcome = outcome_words(outcome_domain)
    if category.no_difference:
        res = "results" if third_person else "result"
        tail = ("" if category is Category.NO_IMPORTANT_DIFFERENCE else
                ", but an important difference is not excluded" if full else
                " (important effect not excluded)")
        return f"{modal}{res} in little to no difference in {outcome}{tail}"
    below, uncertain = category.is_below_mcid, category.is_size_uncertain
    harm = category.direction is Direction.HARM
    if harm and comparator_class in ACTIVE_CLASSES:
        size = (" (by less than the MCID)" if below else
                " (by an uncertain amount)" if uncertain else "")
        verb = (f"is {modal.strip()} " if third_person and modal else "is " if third_person
                else f"{modal}be ")
        return f"{verb}less effective for {outcome} than the comparator{size}"
    verb = bad if harm else good
    verb = _third(verb) if third_person else verb
    if full:
        size = (" slightly (less than the MCID)" if below else
                " (by an uncertain amount)" if uncertain else "")
    else:
        size = " slightly" if below else " (size uncertain)" if uncertain else ""
    return f"{modal}{verb} {outcome}{size}"


def _action(v: Verdict, modal: str, third_person: bool) -> str:
    return _phrase(v.claim.outcome, v.category, v.claim.comparator, modal, third_person, True)


def statement(v: Verdict) -> str:
    """The sentence for a verdict (see the module docstring)."""
    if v.body is None or v.certainty is None:
        return v.statement or ""
    t, level = v.claim.treatment, v.certainty.level
    tail = f" Effect: {v.effect}."
    if v.mcid is not None:
        tail += f" {v.mcid.describe()}."
    if v.category is Category.INCONCLUSIVE:
        lead = (f"{level.capitalize()}-certainty evidence" if level is not Level.VERY_LOW
                else "Very low-certainty evidence")
        return (f"{lead} does not say whether {t} changes {outcome_words(v.claim.outcome)} "
                f"{_context(v)}: {v.rule}.{tail}")
    if level is Level.VERY_LOW:
        return (f"The evidence is very uncertain about the effect of {t} on "
                f"{outcome_words(v.claim.outcome)} "
                f"{_context(v)}; its reported result suggests {t} {_action(v, '', True)}.{tail}")
    modal, suffix = _MODAL[level]
    return f"{_PREFIX[level]} {t} {_action(v, modal, bool(suffix))} {_context(v)}.{tail}"


def headline(treatment: str, outcome: str, category: str, level: str | None,
             comparator_class: str) -> str:
    """The short GRADE informative statement a bottom-line table leads with, e.g. "may
    reduce pain", "probably makes little or no difference", "the evidence is very uncertain".

    ``category`` and ``level`` are :class:`~metaverdict.verdict.rules.Category` and
    :class:`~metaverdict.grade.levels.Level` members or their strings.
    """
    if level is None:
        return "no trial evidence (expert opinion only)"
    lvl, cat = Level(level), Category(category)
    if lvl is Level.VERY_LOW:
        return "the evidence is very uncertain"
    if cat is Category.INCONCLUSIVE:
        return "no estimate or significance reported"
    modal, suffix = _MODAL[lvl]
    return _phrase(outcome, cat, comparator_class, modal, bool(suffix), False)
