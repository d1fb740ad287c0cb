"""The rule-based case-definition finder and PEM labeller (see the package docstring)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .cues import (
    _ACRONYM_RE,
    _BACKGROUND_RE,
    _BREAK_RE,
    _COMPARE_DEFS_RE,
    _COMPARE_GROUPS_RE,
    _EXCLUDED_AFTER_RE,
    _EXCLUDED_IF_RE,
    _FT_CHARACTERISE_RE,
    _FT_EARLIER_RE,
    _FT_NAMED_STUDY_RE,
    _FT_PRESENT_RE,
    _GENERIC_RE,
    _GOVERNED_AFTER_RE,
    _I,
    _INCL_VERB_RE,
    _MERGE_GAP_RE,
    _NEGATION_RE,
    _NO_COHORT_RE,
    _NOT_ADMITTED_AFTER_RE,
    _NOT_MEETING_RE,
    _NOT_SELECTING_AFTER_RE,
    _OR_RE,
    _OUTCOME_RE,
    _OUTCOME_STUDY_RE,
    _PAREN_BEFORE_RE,
    _PART_VERB_RE,
    _PAST_RE,
    _PEM_EXTRA_RE,
    _PEM_REQUIRED_NEG_RE,
    _PEM_REQUIRED_SENTENCE_RE,
    _PROTOCOL_RE,
    _REFERENCES_RE,
    _SLASH_ONLY_RE,
    _STAT_ACRONYM_RE,
    _STAT_AFTER_RE,
    _STAT_NEAR_RE,
    _STRONG_INCL_RE,
    _SUBGROUP_RE,
    _TAIL_RE,
    _WE_USED_RE,
    _WHO_MET_RE,
    _required_literal,
)
from .model import (
    AMBIGUOUS_PENALTY,
    C_PAREN,
    C_STRONG,
    C_WEAK,
    CROSS_SENTENCE_PENALTY,
    NA_FROM_TEXT,
    NA_GIVEN,
    OUTCOME_PENALTY,
    PEM_EXTRA_CAP,
    PEM_STATUSES,
    SOURCE_ORDER,
    SUBGROUP_CAP,
    SUBGROUP_ONLY,
    UNCLEAR_CLEAN,
    UNCLEAR_DOUBT,
    WEAK_AS,
    WEAK_PENALTY,
    Definition,
    DefinitionUse,
    Evidence,
    PemResult,
)
from .sentences import split_sentences

# --- internal records -------------------------------------------------------------------------

@dataclass(slots=True)
class _Mention:
    def_id: str
    start: int          # absolute offsets in the source text
    end: int
    strong: bool
    ext_end: int = 0    # end extended over a trailing "criteria" / "case definition"


@dataclass(slots=True)
class _Group:
    source: str
    sentence: int                  # sentence index within its source
    mentions: list[_Mention]
    connector: str = "and"         # and | or
    role: str = "background"
    confidence: float = 0.0
    pem_extra: bool = False
    cue: tuple[int, int] | None = None
    why: str = ""

    @property
    def ambiguous_only(self) -> bool:
        return not any(m.strong for m in self.mentions)


@dataclass(slots=True)
class _Analysis:
    source: str
    text: str
    groups: list[_Group] = field(default_factory=list)
    rejected_ambiguous: int = 0
    pem_required_sentence: tuple[int, int] | None = None
    outcome_study: bool = False
    no_cohort_cue: bool = False


# --- classifier -------------------------------------------------------------------------------

class PemClassifier:
    """Rule-based case-definition finder and PEM-status labeller (see the module docstring)."""

    def __init__(self, definitions: Sequence[Definition], *, weak_as: str = "not_required",
                 auto_confidence: float = 0.75, rules: int = 1) -> None:
        if weak_as not in WEAK_AS:
            raise ValueError(f"weak_as must be one of {WEAK_AS}, not {weak_as!r}")
        if not 0.0 <= auto_confidence <= 1.0:
            raise ValueError(f"auto_confidence must be within 0..1, not {auto_confidence!r}")
        if rules not in (1, 2):
            raise ValueError(f"rules must be 1 or 2, not {rules!r}")
        #: the role rules' version (policy ``[pem] rules``): 2 reads a double negative
        #: ("who did not meet X were excluded") as inclusion
        self.rules = rules
        seen: set[str] = set()
        self._defs: dict[str, Definition] = {}
        self._patterns: list[tuple[str, bool, re.Pattern[str]]] = []
        for d in definitions:
            if d.id in seen:
                raise ValueError(f"duplicate case definition id {d.id!r}")
            seen.add(d.id)
            if d.pem not in PEM_STATUSES:
                raise ValueError(f"{d.id}: pem must be one of {PEM_STATUSES}, not {d.pem!r}")
            self._defs[d.id] = d
            for strong, pats in ((True, d.patterns), (False, d.ambiguous)):
                for p in pats:
                    try:
                        self._patterns.append((d.id, strong, re.compile(p, _I)))
                    except re.error as exc:
                        raise ValueError(f"{d.id}: bad pattern {p!r}: {exc}") from exc
        self.weak_as = weak_as
        self.auto_confidence = auto_confidence
        # A literal each pattern cannot match without (see _required_literal): checking it
        # with ``in`` on the lower-cased text skips most regex searches on a typical
        # abstract, which names no definition, without changing any result.
        self._literals = [_required_literal(p.pattern) for _, _, p in self._patterns]

    # -- public API ----------------------------------------------------------------------------

    def find(self, text: str, source: str) -> list[DefinitionUse]:
        """Every definition mention in ``text`` with its role, ordered by start offset."""
        return self._uses(self._analyse(text, source).groups, {source: text})

    def names_definition(self, text: str, *, strong_only: bool = True) -> bool:
        """Does ``text`` match any definition pattern (the policy's strong forms only)?"""
        lowered = text.lower()
        for (_, strong, pat), literal in zip(self._patterns, self._literals, strict=True):
            if (strong or not strong_only) and (not literal or literal in lowered) and \
                    pat.search(text):
                return True
        return False

    def classify(self, texts: Mapping[str, str | None], *, cohort: bool | None,
                 cited: Mapping[str, Sequence[tuple[int, int, str]]] | None = None,
                 fulltext_rules: bool = False) -> PemResult:
        """The paper's PEM label from its texts (title, abstract, fulltext ...).

        ``cited``: per source, extra mentions ``(start, end, definition id)`` that the text
        names only through a citation ("criteria for CFS (12)", reference 12 being Fukuda's
        paper), resolved by the caller through the reference list. ``fulltext_rules``: the
        full-text reader's extra role rules for the ``fulltext`` source (a definition used
        to characterise participants already included, or cited for an earlier study, is
        background); off for policies that do not pin the full-text reader.
        """
        cited = cited or {}
        analyses = [self._analyse(texts[s] or "", s, cited.get(s, ()),
                                  fulltext_rules and s == "fulltext")
                    for s in _ordered_sources(texts)]
        groups = [g for a in analyses for g in a.groups]
        srcs = {a.source: a.text for a in analyses}
        if cohort is False:
            return self._not_applicable(groups, srcs, NA_GIVEN,
                                        "No ME/CFS participants (cohort=False)")
        if cohort is None and any(a.no_cohort_cue for a in analyses):
            return self._not_applicable(
                groups, srcs, NA_FROM_TEXT, "The text describes a review, commentary, in-vitro or "
                "animal study, so no ME/CFS participants")
        return self._decide(analyses, groups, srcs)

    # -- analysis ------------------------------------------------------------------------------

    def _analyse(self, text: str, source: str, cited: Sequence[tuple[int, int, str]] = (),
                 extra_rules: bool = False) -> _Analysis:
        out = _Analysis(source=source, text=text)
        if not text:
            return out
        sentences = split_sentences(text)
        out.outcome_study = bool(_OUTCOME_STUDY_RE.search(text))
        out.no_cohort_cue = bool(_NO_COHORT_RE.search(text))
        stat_acronyms = {m.group(1).upper() for m in _STAT_ACRONYM_RE.finditer(text)}
        by_sentence = self._mentions(text, sentences, cited)
        refs = [m.start() for m in _REFERENCES_RE.finditer(text)] if source == "fulltext" else []
        refs_start = refs[-1] if refs else len(text)
        defined_acronyms = _defined_acronyms(text, by_sentence)
        for si, (s0, s1) in enumerate(sentences):
            if s0 >= refs_start:
                break
            sent = text[s0:s1]
            pem_required = bool(
                out.pem_required_sentence is None and _PEM_REQUIRED_SENTENCE_RE.search(sent)
                and not _PEM_REQUIRED_NEG_RE.search(sent)
                and (_PAST_RE.search(sent) or _PROTOCOL_RE.search(sent)))
            mentions = by_sentence.get(si)
            if not mentions:
                if pem_required:
                    out.pem_required_sentence = (s0, s1)
                continue
            kept: list[_Mention] = []
            for m in mentions:
                if m.strong:
                    kept.append(m)
                elif _collides(text, s0, s1, m, stat_acronyms, defined_acronyms):
                    continue        # a statistic, a scale ...: confidently something else
                else:
                    am = _ACRONYM_RE.match(text[m.start:m.end])
                    # an acronym this text defines as this very definition is not ambiguous
                    if am and defined_acronyms.get(am.group(1).upper()) == m.def_id:
                        m.strong = True
                    kept.append(m)
            groups = self._groups(text, source, si, s0, s1, kept, extra_rules)
            if pem_required and any(g.role != "background" for g in groups):
                # "... met the Fukuda criteria, and all were required to report PEM"; a
                # sentence naming definitions only as background describes the definitions
                out.pem_required_sentence = (s0, s1)
            for g in groups:
                if g.ambiguous_only and g.role == "background":
                    out.rejected_ambiguous += len(g.mentions)
                    continue
                out.groups.append(g)
        # full text: the reference list only cites definitions
        for si in sorted(by_sentence):
            s0, s1 = sentences[si]
            if s0 < refs_start:
                continue
            for g in self._groups(text, source, si, s0, s1,
                                  [m for m in by_sentence[si] if m.strong]):
                g.role, g.why, g.confidence, g.pem_extra = "background", "reference list", 0.0, \
                    False
                out.groups.append(g)
        return out

    def _mentions(self, text: str, sentences: list[tuple[int, int]],
                  cited: Sequence[tuple[int, int, str]] = ()) -> dict[int, list[_Mention]]:
        """Pattern matches per sentence index: overlaps resolved, same-definition runs merged."""
        starts = [s for s, _ in sentences]
        cands: list[_Mention] = []
        lowered = text.lower()
        for (def_id, strong, pat), literal in zip(self._patterns, self._literals, strict=True):
            if literal and literal not in lowered:
                continue
            for m in pat.finditer(text):
                if m.end() > m.start():
                    cands.append(_Mention(def_id, m.start(), m.end(), strong))
        cands.extend(_Mention(def_id, s, e, True) for s, e, def_id in cited
                     if def_id in self._defs and 0 <= s < e <= len(text))
        # strong before ambiguous, longer before shorter, then position and id: deterministic.
        cands.sort(key=lambda c: (not c.strong, -(c.end - c.start), c.start, c.def_id))
        chosen: list[_Mention] = []
        for c in cands:
            clash = False
            for k in chosen:
                if c.start < k.end and k.start < c.end:
                    if k.def_id == c.def_id:
                        k.start, k.end = min(k.start, c.start), max(k.end, c.end)
                        k.strong = k.strong or c.strong
                    clash = True
                    break
            if not clash:
                chosen.append(c)
        chosen.sort(key=lambda c: (c.start, c.end))
        per: dict[int, list[_Mention]] = {}
        for i, c in enumerate(chosen):
            si = _sentence_index(starts, c.start)
            if si < 0 or c.end > sentences[si][1]:
                continue                                   # crosses a sentence boundary
            limit = sentences[si][1]
            if i + 1 < len(chosen):
                limit = min(limit, max(c.end, chosen[i + 1].start))
            t = _TAIL_RE.match(text, c.end, limit)
            c.ext_end = t.end() if t else c.end
            lst = per.setdefault(si, [])
            if lst and lst[-1].def_id == c.def_id and \
                    _MERGE_GAP_RE.match(text[lst[-1].ext_end:c.start]):
                lst[-1].end = max(lst[-1].end, c.end)
                lst[-1].ext_end = max(lst[-1].ext_end, c.ext_end)
                lst[-1].strong = lst[-1].strong or c.strong
            else:
                lst.append(c)
        return per

    def _groups(self, text: str, source: str, si: int, s0: int, s1: int,
                mentions: list[_Mention], extra_rules: bool = False) -> list[_Group]:
        groups: list[_Group] = []
        for m in mentions:
            if groups:
                last = groups[-1].mentions[-1]
                gap = text[last.ext_end:m.start]
                if not _BREAK_RE.search(gap):
                    groups[-1].mentions.append(m)
                    continue
            groups.append(_Group(source, si, [m]))
        sentence = text[s0:s1]
        n_who_met = 0
        prev_end = s0
        for g in groups:
            clause = text[prev_end:g.mentions[0].start]
            if _WHO_MET_RE.search(clause):
                n_who_met += 1
            prev_end = g.mentions[-1].ext_end
        prev_end = s0
        for gi, g in enumerate(groups):
            first, last = g.mentions[0], g.mentions[-1]
            clause = text[prev_end:first.start]
            after_end = groups[gi + 1].mentions[0].start if gi + 1 < len(groups) else s1
            after = text[last.ext_end:after_end]
            prev_end = last.ext_end
            g.connector = self._connector(text, g, clause)
            self._role(text, g, sentence, clause, after, s0, s1, n_who_met)
            if extra_rules and g.role in ("inclusion", "subgroup"):
                _fulltext_role(text, g, sentence, clause, s0, self.rules)
            if g.role in ("inclusion", "subgroup") and _PEM_EXTRA_RE.search(after):
                g.pem_extra = True
                g.confidence = min(g.confidence, PEM_EXTRA_CAP)
        return groups

    @staticmethod
    def _connector(text: str, g: _Group, clause: str) -> str:
        if len(g.mentions) == 1:
            return "and"
        verbs = list(_INCL_VERB_RE.finditer(clause))
        prefix = clause[verbs[-1].end():] if verbs else clause[-30:]
        gaps = [text[a.ext_end:b.start] for a, b in zip(g.mentions, g.mentions[1:], strict=False)
                if a.def_id != b.def_id]
        if _OR_RE.search(prefix) or any(_OR_RE.search(x) for x in gaps):
            return "or"
        if any(_SLASH_ONLY_RE.match(x) for x in gaps):
            return "or"
        return "and"

    def _role(self, text: str, g: _Group, sentence: str, clause: str, after: str, s0: int,
              s1: int, n_who_met: int) -> None:
        first = g.mentions[0]
        local = clause[-45:]
        strong_local = bool(_PART_VERB_RE.search(clause) or _STRONG_INCL_RE.search(clause))
        g.cue = _cue_span(text, s0, s1, first.start, g.mentions[-1].ext_end)
        if self.rules >= 2 and _NOT_MEETING_RE.search(local) and (
                _NOT_ADMITTED_AFTER_RE.search(after) or _EXCLUDED_IF_RE.search(clause)):
            # "patients who did not meet X were excluded / not included", "excluded if they
            # did not fulfil X": X is what selected the participants
            g.role, g.why = "inclusion", "those not meeting it were excluded"
            g.cue = _cue_span(text, s0, s1, first.start, g.mentions[-1].ext_end)
            return
        if _NEGATION_RE.search(local) or _EXCLUDED_AFTER_RE.search(after):
            g.role, g.why = "background", "negated or exclusion"
            return
        if self.rules >= 2 and _WE_USED_RE.search(local):
            tail = text[g.mentions[-1].end:g.mentions[-1].ext_end] + after
            if not _OUTCOME_RE.search(clause + tail) and \
                    not _NOT_SELECTING_AFTER_RE.search(tail):
                g.role, g.why = "inclusion", "we used it"
                return
        if g.ambiguous_only and not _INCL_VERB_RE.search(clause[-60:]) and \
                not _GOVERNED_AFTER_RE.search(after):
            # a bare acronym / ambiguous form counts only as the object of a use cue
            g.role, g.why = "background", "ambiguous form not governed by a use cue"
            return
        if _GENERIC_RE.search(sentence) and not _PAST_RE.search(sentence) and \
                not _PROTOCOL_RE.search(sentence):
            g.role, g.why = "background", "generic statement"
            return
        if _OUTCOME_RE.search(clause):
            g.role, g.why = "background", "definition used as an outcome"
            return
        if _SUBGROUP_RE.search(clause) and _INCL_VERB_RE.search(sentence):
            g.role, g.why, g.confidence = "subgroup", "subgroup", SUBGROUP_CAP
        elif _COMPARE_GROUPS_RE.search(sentence) and _WHO_MET_RE.search(clause) and (
                n_who_met >= 2 or re.search(r"\b(?:those|only|also)\b", clause, _I)):
            g.role, g.why, g.confidence = "subgroup", "comparison of patient groups", \
                SUBGROUP_CAP
        elif _BACKGROUND_RE.search(sentence) and not strong_local:
            g.role, g.why = "background", "background statement"
            return
        elif _COMPARE_DEFS_RE.search(clause) and not _WHO_MET_RE.search(clause):
            g.role, g.why = "background", "definitions compared"
            return
        elif _PART_VERB_RE.search(sentence) or _STRONG_INCL_RE.search(sentence):
            g.role, g.why, g.confidence = "inclusion", "explicit inclusion wording", C_STRONG
        elif _PAREN_BEFORE_RE.search(text[max(s0, first.start - 60):first.start]):
            g.role, g.why, g.confidence = "inclusion", "definition in parentheses after the " \
                "cohort", C_PAREN
        elif _INCL_VERB_RE.search(sentence):
            g.role, g.why, g.confidence = "inclusion", "weak inclusion wording", C_WEAK
        else:
            g.role, g.why = "background", "no inclusion wording"
            return
        if g.ambiguous_only:
            g.confidence -= AMBIGUOUS_PENALTY

    # -- decision ------------------------------------------------------------------------------

    def _status(self, def_id: str) -> str:
        """Does meeting this definition guarantee PEM? ``yes`` / ``no`` / ``both`` (a weak
        definition with ``weak_as = "mixed"``) / ``unknown`` (``weak_as = "unclear"``)."""
        pem = self._defs[def_id].pem
        if pem == "required":
            return "yes"
        if pem == "weak":
            return {"required": "yes", "not_required": "no", "mixed": "both",
                    "unclear": "unknown"}[self.weak_as]
        return "no"

    def _pem_requiring(self, groups: Iterable[_Group]) -> list[_Group]:
        return [g for g in groups
                if any(self._status(m.def_id) in ("yes", "both") for m in g.mentions)]

    def _paths(self, g: _Group, doc_pem: bool) -> list[tuple[tuple[str, ...], str]]:
        ids = _unique(m.def_id for m in g.mentions)
        extra = g.pem_extra or doc_pem
        if g.connector == "or":
            return [((i,), "yes" if extra else self._status(i)) for i in ids]
        statuses = {self._status(i) for i in ids}
        if "yes" in statuses or extra:
            return [(tuple(ids), "yes")]
        for st in ("both", "unknown"):
            if st in statuses:
                return [(tuple(ids), st)]
        return [(tuple(ids), "no")]

    def _decide(self, analyses: list[_Analysis], groups: list[_Group],
                srcs: Mapping[str, str]) -> PemResult:
        uses = self._uses(groups, srcs)
        incl = [g for g in groups if g.role == "inclusion"]
        subs = [g for g in groups if g.role == "subgroup"]
        doc_pem = any(a.pem_required_sentence for a in analyses)
        outcome = any(a.outcome_study for a in analyses)
        if not incl:
            sub_req = self._pem_requiring(subs)
            if sub_req:
                conf = min(SUBGROUP_ONLY, *(g.confidence for g in sub_req))
                names = ", ".join(self._names(sub_req))
                return self._result("mixed", conf, uses, f"A subgroup also met {names} (PEM "
                                    "required), but no definition is stated for the rest")
            doubt = [g for g in groups if g.role == "background"]
            rejected = sum(a.rejected_ambiguous for a in analyses)
            if doubt or rejected or subs or doc_pem:
                bits = []
                if doubt:
                    bits.append("definitions named only as background ("
                                + ", ".join(self._names(doubt)) + ")")
                if subs:
                    bits.append("a subgroup definition without PEM")
                if rejected:
                    bits.append(f"{rejected} ambiguous form(s) without context")
                if doc_pem:
                    bits.append("PEM required but no definition named")
                return self._result("unclear", UNCLEAR_DOUBT, uses,
                                    "ME/CFS cohort, no definition used for inclusion is "
                                    "stated; doubt: " + "; ".join(bits), doubt=True)
            return self._result("unclear", UNCLEAR_CLEAN, uses,
                                "ME/CFS cohort, but no case definition is named")

        paths: list[tuple[tuple[str, ...], str, _Group]] = []
        for g in incl:
            paths.extend((ids, st, g) for ids, st in self._paths(g, doc_pem))
        statuses = {st for _, st, _ in paths}
        # agreeing groups add up (the best one counts); a mixed label is as weak as its parts
        conf = max(g.confidence for g in incl) if len(statuses) == 1 else \
            min(g.confidence for g in incl)
        weak_used = any(self._defs[i].pem == "weak" for ids, _, _ in paths for i in ids)
        extra_used = any(st == "yes" and all(self._status(i) != "yes" for i in ids)
                         for ids, st, _ in paths)
        if extra_used:
            conf = min(conf, PEM_EXTRA_CAP)
        if statuses == {"yes"}:
            label = "required"
            reason = "Every inclusion path requires PEM: " + self._path_text(paths)
        elif "unknown" in statuses:
            label = "unclear"
            reason = ("A weak definition decides the inclusion path, and the policy counts it "
                      "as unclear: " + self._path_text(paths))
        elif statuses == {"no"}:
            sub_req = self._pem_requiring(subs)
            if sub_req:
                label = "mixed"
                conf = min(conf, *(g.confidence for g in sub_req))
                reason = (f"Inclusion by {self._path_text(paths)} does not require PEM, but a "
                          f"subgroup also met {', '.join(self._names(sub_req))}")
            else:
                label = "not_required"
                reason = "No inclusion path requires PEM: " + self._path_text(paths)
        else:
            label = "mixed"
            src = {(g.source, g.sentence) for _, _, g in paths}
            if len(src) > 1:
                conf -= CROSS_SENTENCE_PENALTY
                reason = "Cohorts or paths stated in different sentences differ on PEM: "
            elif len({id(g) for _, _, g in paths}) > 1:
                reason = "Cohorts selected by definitions that differ on PEM: "
            else:
                reason = "Participants could enter by definitions that differ on PEM: "
            reason += self._path_text(paths)
        if weak_used and label in ("required", "not_required"):
            conf -= WEAK_PENALTY
            reason += f" (a weak definition counts as {self.weak_as} by policy)"
        if outcome:
            conf -= OUTCOME_PENALTY
            reason += "; the text reports ME/CFS prevalence, check the definition selected " \
                      "participants"
        return self._result(label, conf, uses, reason)

    def _not_applicable(self, groups: list[_Group], srcs: Mapping[str, str], conf: float,
                        why: str) -> PemResult:
        uses = [DefinitionUse(u.id, u.pem, "background", u.evidence)
                for u in self._uses(groups, srcs)]
        reason = why + (f"; {len(uses)} definition mention(s) reported as background"
                        if uses else "")
        return self._result("not_applicable", conf, uses, reason)

    def _result(self, label: str, conf: float, uses: list[DefinitionUse], reason: str, *,
                doubt: bool = False) -> PemResult:
        conf = round(max(0.0, min(1.0, conf)), 2)
        route = "auto" if conf >= self.auto_confidence and not doubt else "review"
        return PemResult(label, conf, route, tuple(uses), reason.rstrip(".") + ".")

    # -- helpers -------------------------------------------------------------------------------

    def _uses(self, groups: Iterable[_Group], texts: Mapping[str, str]) -> list[DefinitionUse]:
        out: list[DefinitionUse] = []
        for g in groups:
            for m in g.mentions:
                start, end = m.start, m.ext_end or m.end
                if g.role != "background" and g.cue is not None:
                    start, end = min(start, g.cue[0]), max(end, g.cue[1])
                src_text = texts.get(g.source)
                if src_text is None:
                    continue
                out.append(DefinitionUse(m.def_id, self._defs[m.def_id].pem, g.role,
                                         Evidence(src_text[start:end], g.source, start, end)))
        rank = {s: i for i, s in enumerate(SOURCE_ORDER)}
        out.sort(key=lambda u: (rank.get(u.evidence.source, len(rank)), u.evidence.source,
                                u.evidence.start, u.evidence.end, u.id))
        return out

    def _names(self, groups: Iterable[_Group]) -> list[str]:
        return _unique(self._defs[m.def_id].name for g in groups for m in g.mentions)

    def _path_text(self, paths: list[tuple[tuple[str, ...], str, _Group]]) -> str:
        seen: list[str] = []
        for ids, st, _g in paths:
            names = " + ".join(self._defs[i].name for i in ids)
            pems = "/".join(self._defs[i].pem for i in ids)
            extra = " plus explicit PEM" if st == "yes" and all(
                self._status(i) != "yes" for i in ids) else ""
            txt = f"{names} ({pems}){extra}"
            if txt not in seen:
                seen.append(txt)
        return "; ".join(seen)


# --- module helpers ---------------------------------------------------------------------------

def _ordered_sources(texts: Mapping[str, str | None]) -> list[str]:
    known = [s for s in SOURCE_ORDER if s in texts]
    return known + sorted(s for s in texts if s not in SOURCE_ORDER)


def _sentence_index(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= pos:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _defined_acronyms(text: str, by_sentence: dict[int, list[_Mention]]) -> dict[str, str]:
    """Acronyms the text defines as a case definition ("... Criteria (ICC)") -> definition id."""
    out: dict[str, str] = {}
    for lst in by_sentence.values():
        for m in lst:
            if not m.strong:
                continue
            am = re.match(r"\s*\(\s*([A-Z]{2,5})\s*[);,]", text[m.end:m.end + 12])
            if am:
                out.setdefault(am.group(1).upper(), m.def_id)
            inner = re.search(r"\(\s*([A-Z]{2,5})\s*\)\s*$", text[m.start:m.end])
            if inner:
                out.setdefault(inner.group(1).upper(), m.def_id)
    return out


def _collides(text: str, s0: int, s1: int, m: _Mention, stat_acronyms: set[str],
              defined: Mapping[str, str]) -> bool:
    """True when an ambiguous mention reads as something else (a statistic, a scale ...)."""
    if _STAT_AFTER_RE.match(text, m.end, s1):
        return True
    before = text[max(s0, m.start - 60):m.start]
    after = text[m.end:min(s1, m.end + 40)]
    if _STAT_NEAR_RE.search(before) or _STAT_NEAR_RE.search(after):
        return True
    am = _ACRONYM_RE.match(text[m.start:m.end])
    if am:
        acr = am.group(1).upper()
        if acr in stat_acronyms and acr not in defined:
            return True
    return False


def _cue_span(text: str, s0: int, s1: int, m_start: int, m_end: int) -> tuple[int, int] | None:
    """The inclusion cue nearest the mention (preferring one before it) in its sentence."""
    before = [c for c in _INCL_VERB_RE.finditer(text, s0, m_start) if m_start - c.start() <= 120]
    if before:
        c = before[-1]
        return c.start(), c.end()
    after = [c for c in _INCL_VERB_RE.finditer(text, m_end, s1) if c.start() - m_end <= 80]
    if after:
        return after[0].start(), after[0].end()
    return None


#: "the WHO working case definition" (long COVID) is not the 1988 Holmes definition
_NUMWORD = (r"(?:\d[\d,]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
            r"\w+teen|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-]\w+)?)")
#: "Fourteen of the patients fulfilled the ... Canadian Consensus Criteria": a subgroup
_FT_N_OF_THE_RE = re.compile(
    rf"\b{_NUMWORD}\s+(?:\(\s*\d+(?:\.\d+)?\s*%\s*\)\s+)?of\s+(?:the|our|all)\s+"
    r"(?:\w+\s+){0,2}?(?:patients|participants|subjects|cases|individuals|people)\b",
    re.IGNORECASE)
#: "This study began before the criteria for SEID were established [22]"
_FT_POSTDATES_RE = re.compile(
    r"\b(?:began|begun|started|initiated|designed|conducted|recruited|enrolled)\s+before\s+"
    r"(?:the\s+)?[^.;]{0,120}?\b(?:were|was|had\s+been)\s+(?:\w+\s+)?(?:established|"
    r"published|introduced|proposed|developed|released|available)\b", re.IGNORECASE)
#: "most, perhaps all, also fit the description of SEID"
_FT_SPECULATIVE_RE = re.compile(
    r"\b(?:perhaps|probably|likely|possibly|may|might|would)\b[^.;]{0,40}\b(?:fit|fits|"
    r"fitted|meet|met|fulfil\w*)\b[^.;]{0,40}$", re.IGNORECASE)
_FT_OTHER_BODY_RE = re.compile(r"\b(?:WHO|World\s+Health\s+Organi[sz]ation)(?:'s)?\s*$")


def _fulltext_role(text: str, g: _Group, sentence: str, clause: str, s0: int,
                   rules: int = 1) -> None:
    """The full-text reader's extra rules (policy-pinned): a definition applied to
    participants already included ("were also classified according to", "we assessed whether
    they met") characterises them; one cited for an earlier study describes that study;
    under rules 2, one another named study applied ("DecodeME applied ...") describes it."""
    before = text[max(s0, g.mentions[0].start - 120):g.mentions[0].start]
    if g.role == "inclusion" and _FT_N_OF_THE_RE.search(clause):
        g.role, g.why, g.confidence = "subgroup", "N of the patients met it", \
            min(g.confidence, SUBGROUP_CAP)
    if _FT_POSTDATES_RE.search(sentence):
        g.role, g.why, g.pem_extra = "background", "definition published after the study " \
            "began", False
    elif _FT_SPECULATIVE_RE.search(before):
        g.role, g.why, g.pem_extra = "background", "participants said to perhaps also fit " \
            "it", False
    elif _FT_OTHER_BODY_RE.search(before):
        g.role, g.why, g.pem_extra = "background", "another body's case definition " \
            "(WHO)", False
    elif _FT_CHARACTERISE_RE.search(before):
        g.role, g.why, g.pem_extra = "background", "definition used to characterise " \
            "participants", False
    elif _FT_EARLIER_RE.search(before) and not _FT_PRESENT_RE.search(sentence):
        g.role, g.why, g.pem_extra = "background", "definition cited for an earlier study", False
    elif rules >= 2 and _FT_NAMED_STUDY_RE.search(before) and \
            not _FT_PRESENT_RE.search(sentence) and not re.search(r"\b(?:we|our)\b", sentence,
                                                                   re.IGNORECASE):
        g.role, g.why, g.pem_extra = "background", "another named study's definition", False
