"""Case-definition and PEM-status extractor (rules, no model).

Given a paper's texts (title, abstract, later full text) this module finds the ME/CFS case
definitions the text names (shared design notes, domain.md section 2; the policy file's
``[[case_definitions]]``), decides for each mention whether it was used to include
participants (``inclusion``), describes a subgroup (``subgroup``) or is only talked about
(``background``), and derives the paper's PEM status (domain.md section 3):

``required``
    every path into the study required PEM: a PEM-requiring definition, all of several
    definitions ("Fukuda and CCC"), a union in which every member requires PEM ("CCC or IOM"),
    or PEM added as an explicit extra criterion ("Fukuda criteria plus PEM").
``not_required``
    every path allowed participants without PEM (only optional / absent definitions, and
    ``weak`` ones as the policy's ``weak_as`` says).
``mixed``
    paths that differ: a union ("Fukuda or CCC", "at least one of"), several cohorts with
    different definitions, or a subgroup that also met a PEM-requiring definition
    ("of whom 26 also met the CCC").
``unclear``
    an ME/CFS cohort, but no definition used for inclusion is named.
``not_applicable``
    no ME/CFS participants (the caller says ``cohort=False``; or, with ``cohort=None``, the
    text calls itself a review / commentary / in-vitro or animal study).

How it reads a text: it is split into sentences (offsets kept; no split after "et al.",
"e.g.", "vs.", initials, or inside decimals; a line break ends a sentence only after end
punctuation or before a blank line, so PDF text broken mid-sentence stays whole). Definition
patterns are matched over the whole text; a match may not cross a sentence boundary.
Overlapping matches of different definitions keep the stronger (non-ambiguous) and then the
longer one; adjacent matches of the same definition ("NICE 2007 (CG53)", "CDC/Fukuda",
"Canadian Consensus Criteria (CCC)") merge. An ambiguous form (the policy's ``ambiguous``:
bare "CDC criteria", "ICC", "CCC", "NICE", "IOM", "NAM", "SEID", "Ramsay") is dropped next to a
statistic ("ICC = 0.84", "ICC(2,1)", "ICCs", "intraclass correlation coefficient (ICC)", "CCC"
defined as Lin's concordance coefficient) or a known other use ("Ramsay Hunt"), and counts
only as the object of a use cue ("met the ICC", "ICC criteria were used"); an acronym the
text itself defines as that definition ("International Consensus Criteria (ICC)") is no
longer ambiguous.

Within a sentence the mentions are grouped: a new group starts where the words between two
mentions open a new clause or cohort ("who", "met", "cohort", "controls", "of whom", ";");
inside a group "or", "and/or", "either", "at least one of" and "/" make a union, otherwise
("and", "both", ",") all definitions were met together. Each group gets one role from the
words around it, in this order: negation / exclusion ("did not meet", "were excluded") and
generic present tense ("diagnosis is based on", "PEM is required by", "45% of people meet")
-> background; a definition used as an outcome ("the proportion meeting ...") -> background;
subgroup cues ("of whom", "also met", "a subset", "including 26 who", "restricted to", "N%
met") or patient groups compared in a results sentence ("than those who met ...") ->
subgroup; background cues ("such as", "e.g.", "developed by", "require(s)", "most widely
used", "previous studies", "align with"), unless a participant + inclusion verb governs the
mention, or definitions compared with each other -> background; otherwise inclusion cues
("patients who met", "fulfilling", "diagnosed according to / by / using", "inclusion
criteria", "were included / recruited / enrolled / selected", "(Canadian Criteria; n = 84)")
-> inclusion. In full text, mentions after the reference list's heading are background.
An explicit PEM requirement is read right after the group ("Fukuda criteria plus PEM",
"with the additional requirement of post-exertional malaise") or from a sentence of its own
("PEM was required for inclusion"); present-tense, modal or negated statements do not count.

Evidence: for an inclusion or subgroup use, the span runs from the nearest use cue in the
sentence to the end of the definition's name ("fulfilling the Canadian Consensus Criteria
(CCC"), so it shows both the name and its use; for background, the name alone. Always
``texts[source][start:end] == text``.

Confidence (0..1) of a label: 0.90 for a definition named with explicit inclusion wording
(a participant noun with a verb such as met / fulfilled / diagnosed, or "inclusion criteria",
"were included / recruited / enrolled"), 0.85 for a parenthesis after the cohort, 0.80 for
weaker wording (only "according to", "based on", "defined by", "classified"); minus 0.20
where the mention rests on an ambiguous form only; at most 0.85 where an explicit extra PEM
requirement decided the label; at most 0.80 for a subgroup, 0.60 for a subgroup with no stated
main definition; minus 0.05 where a ``weak`` definition decided the label through
``weak_as``; minus 0.10 where the text reports the prevalence / proportion of ME/CFS (the
definition may classify an outcome rather than select participants); minus 0.10 where a
mixed label rests on groups from different sentences (one may be a results sentence
misread). Agreeing groups count by the best of them; a mixed label by the weakest.
``unclear``: 0.90 when nothing was found, 0.50 with doubt. ``not_applicable``: 0.95 when the
caller says there is no cohort, 0.70 when only the text says so.

Routing: ``auto`` iff confidence >= ``auto_confidence`` and the label is not an ``unclear``
with doubt (a definition named but only as background, an ambiguous form left without a use
cue, a subgroup without a PEM-requiring definition, or PEM required without any named
definition: a person should look, or the full text should be read); otherwise ``review``.
Recognised collisions (statistics) are not doubt.

``weak_as``: "not_required" (policy v0.1), "required", "mixed" (a weak path counts as both)
or "unclear" (the policy declines to decide: such a path makes the label unclear).

Everything is deterministic: results are ordered by source (title, abstract, fulltext, then
any other source alphabetically) and evidence start offset.
"""

from __future__ import annotations

from .classifier import PemClassifier
from .cues import PEM_TERM, _required_literal
from .model import (
    LABELS,
    PEM_STATUSES,
    ROLES,
    SOURCE_ORDER,
    WEAK_AS,
    Definition,
    DefinitionUse,
    Evidence,
    PemResult,
)
from .sentences import split_sentences

__all__ = [
    "LABELS",
    "PEM_STATUSES",
    "PEM_TERM",
    "ROLES",
    "SOURCE_ORDER",
    "WEAK_AS",
    "Definition",
    "DefinitionUse",
    "Evidence",
    "PemClassifier",
    "PemResult",
    "_required_literal",
    "split_sentences",
]
