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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metaverdict.verdict.verdicts import Verdict

_MODAL = {"high": ("", "s"), "moderate": ("probably ", "s"), "low": ("may ", ""),
          "very low": ("", "s")}
_PREFIX = {"high": "High-certainty evidence shows that", "moderate":
           "Moderate-certainty evidence shows that", "low": "Low-certainty evidence suggests that"}


#: Outcome domains that name something to have less of: "reduces"/"increases" pain. Every
#: other domain (function, quality of life, ...) "improves"/"worsens", whatever the direction
#: of its scale: a disability score that falls is function that improves.
LESS_IS_BETTER_DOMAINS = frozenset({"pain", "cramping", "adverse-events", "recurrence",
                                    "tenderness"})


def _verbs(outcome: str) -> tuple[str, str]:
    """Base verbs (benefit, harm) for an outcome domain."""
    return ("reduce", "increase") if outcome in LESS_IS_BETTER_DOMAINS else ("improve", "worsen")


def _third(verb: str) -> str:
    return verb + "s"


def _context(v: Verdict) -> str:
    body = v.body
    comp = body.comparator_name if body and body.comparator_name else v.claim.comparator
    return f"compared with {comp} in {v.claim.condition} ({v.timepoint or v.claim.window})"


def _action(v: Verdict, modal: str, third_person: bool) -> str:
    good, bad = _verbs(v.claim.outcome)
    cat = v.category
    verb = good if "benefit" in cat else bad
    if cat == "no important difference":
        res = "results" if third_person else "result"
        return f"{modal}{res} in little to no difference in {v.claim.outcome}"
    verb = _third(verb) if third_person else verb
    slight = " slightly (less than the MCID)" if "below the MCID" in cat else ""
    return f"{modal}{verb} {v.claim.outcome}{slight}"


def statement(v: Verdict) -> str:
    """The sentence for a verdict (see the module docstring)."""
    if v.body is None or v.certainty is None:
        return v.statement or ""
    t, level = v.claim.treatment, v.certainty.level
    tail = f" Effect: {v.effect}."
    if v.mcid is not None:
        tail += f" {v.mcid.describe()}."
    if v.category == "inconclusive":
        lead = (f"{level.capitalize()}-certainty evidence" if level != "very low"
                else "Very low-certainty evidence")
        good, bad = _verbs(v.claim.outcome)
        what = {"benefit": f"{t} {_third(good)} {v.claim.outcome} (a statistically significant "
                           "benefit)",
                "harm": f"{t} {_third(bad)} {v.claim.outcome} (a statistically significant "
                        "harm)"}.get(v.direction, f"{t} changes {v.claim.outcome}")
        return (f"{lead} cannot tell whether {what} by an important amount, "
                f"{_context(v)}: {v.rule}.{tail}")
    if level == "very low":
        return (f"The evidence is very uncertain about the effect of {t} on {v.claim.outcome} "
                f"{_context(v)}; its reported result suggests {t} {_action(v, '', True)}.{tail}")
    modal, suffix = _MODAL[level]
    return f"{_PREFIX[level]} {t} {_action(v, modal, bool(suffix))} {_context(v)}.{tail}"
