"""Public entries: what the evidence pages show, read from the store.

Only approved entries are public, and only their published snapshots (taken at
approval; later edits or machine redrafts never show). Around a snapshot this adds what
the public must also see: the paper's current retraction, concern and erratum notices
(read from the current record, so a retraction after approval shows at once, while the
entry waits for the curators), the labels under each policy, the quoted PEM evidence
with where it came from, the evidence tier by the policy's rule and the curators'
"replicated" links. Each entry is a plain JSON-ready dict, so its hash says whether its
page must be rendered again.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from classifiers.policy import Policy

from ..drafts.citation import is_retracted, retraction_notice, retraction_pmids
from ..drafts.extract import sample_size
from ..store import drafts as store
from ..store import public
from ..store.models import Classification, Draft, DraftBody, DraftEvent, Record
from .tier import grade

#: The PEM badge texts of the public pages (the contract's visible texts).
BADGE_TEXTS = {"required": "PEM required", "not_required": "PEM not required",
               "mixed": "PEM mixed", "unclear": "PEM unclear",
               "not_applicable": "PEM not applicable"}
DESIGN_NAMES = {
    "rct": "Randomised controlled trial", "trial_other": "Other trial",
    "observational": "Observational study", "case_report": "Case report",
    "qualitative": "Qualitative study", "in_vitro": "Laboratory (in vitro) study",
    "animal": "Animal study", "review": "Review", "guideline": "Guideline",
    "commentary": "Commentary", "other": "Other"}
SOURCE_NAMES = {"title": "the title", "abstract": "the abstract",
                "fulltext": "the full text (methods section)", "record": "the PubMed record"}
#: Topics for the index filter: a topic applies when its pattern matches the title,
#: abstract, keywords or MeSH headings. Fixed here, like the badge texts.
TOPICS: dict[str, str] = {
    "Immunology": r"\b(?:immun\w*|NK cells?|natural killer|cytokines?|antibod\w+|"
                  r"autoantibod\w+|T[- ]cells?|B[- ]cells?|inflammat\w+)",
    "Exercise and PEM": r"\b(?:exercise|exertion\w*|CPET|cardiopulmonary|post-?exertional)",
    "Metabolism": r"\b(?:metabol\w+|mitochondri\w+|lactate|ATP|energy production)",
    "Neurology and cognition": r"\b(?:neuro\w+|brain|cognit\w+|MRI|PET|cerebral)",
    "Autonomic function": r"\b(?:autonomic|orthostatic|POTS|tilt|heart rate variability)",
    "Sleep": r"\b(?:sleep\w*|insomnia|polysomnograph\w*)",
    "Infection": r"\b(?:virus\w*|viral|infect\w+|Epstein|EBV|COVID|SARS-CoV-2|long COVID)",
    "Treatment": r"\b(?:treatment|therap\w+|trial|intervention|drug|rintatolimod|"
                 r"rituximab|pacing|graded exercise)",
    "Epidemiology": r"\b(?:prevalence|incidence|epidemiolog\w+|population|cohort|registry)",
    "Genetics": r"\b(?:gene|genetic\w*|genom\w+|GWAS|epigenet\w+|transcriptom\w+)",
    "Children and adolescents": r"\b(?:child\w*|adolescen\w+|paediatric|pediatric|youth)",
}
_TOPIC_RES = {name: re.compile(p, re.IGNORECASE) for name, p in TOPICS.items()}


def slugify(title: str, pmid: str, words: int = 8) -> str:
    """``a-few-title-words-PMID``: readable, and still unique and stable by its PMID."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    parts = re.findall(r"[a-z0-9]+", ascii_title.lower())[:words]
    return "-".join([*parts, pmid])


def topics(record: Mapping[str, Any]) -> list[str]:
    text = " ".join([record.get("title") or "", record.get("abstract") or "",
                     " ".join(str(k) for k in record.get("keywords") or ()),
                     " ".join(_mesh_names(record.get("mesh") or ()))])
    return [name for name, pattern in _TOPIC_RES.items() if pattern.search(text)]


def _mesh_names(mesh: Sequence[Any]) -> list[str]:
    out = []
    for m in mesh:
        if isinstance(m, Mapping):
            out.append(str(m.get("descriptor") or m.get("name") or ""))
        else:
            out.append(str(m))
    return out


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def notices(record: Mapping[str, Any], snapshot: Mapping[str, Any], *, state: str,
            requeue_reason: str | None) -> list[dict[str, str]]:
    """Retraction, concern, erratum and re-review notices for the public page."""
    out: list[dict[str, str]] = []
    retracted = is_retracted(record)
    current = retraction_notice(record, retracted) or snapshot.get("retraction")
    if current:
        out.append({"kind": str(current.get("kind") or "retraction"),
                    "text": str(current.get("notice") or "")})
    errata = retraction_pmids(record, "erratumin")
    if errata:
        out.append({"kind": "erratum",
                    "text": "Erratum: a correction to this paper has been published "
                            f"(PMID {', '.join(errata)}). Read it with the paper."})
    if state == "pending" and requeue_reason:
        why = ("the paper was retracted after this entry was approved" if retracted
               else "the PubMed record changed after this entry was approved")
        out.append({"kind": "review",
                    "text": f"Under review again: {why}. The curators are checking whether "
                            "the entry still stands; until then it shows what they "
                            "approved before."})
    return out


def _evidence(badge: Mapping[str, Any], definition_names: Mapping[str, str],
              ) -> list[dict[str, Any]]:
    out = []
    for ev in badge.get("evidence") or ():
        out.append({"quote": str(ev.get("text") or ""), "source": ev.get("source"),
                    "where": SOURCE_NAMES.get(str(ev.get("source")), str(ev.get("source"))),
                    "start": ev.get("start"), "end": ev.get("end"),
                    "definition": definition_names.get(str(ev.get("definition")),
                                                       str(ev.get("definition") or "")),
                    "role": ev.get("role")})
    return out


def build_entry(*, snapshot: Mapping[str, Any], record: Mapping[str, Any], state: str,
                requeue_reason: str | None, history: Sequence[Mapping[str, Any]],
                approvals: Sequence[Mapping[str, Any]], replicated_with: Sequence[str],
                policy: Policy, definition_names: Mapping[str, str]) -> dict[str, Any]:
    """One public entry (a JSON-ready dict) from its snapshot and current record."""
    pmid = str(snapshot["pmid"])
    labels = snapshot.get("labels") or {}
    badge = snapshot.get("badge") or {}
    pem_label = str(badge.get("label") or labels.get("pem") or "unclear")
    design = str(labels.get("design") or "other")
    sample = sample_size(record)
    evidence = _evidence(badge, definition_names)
    rec = snapshot.get("record") or {}
    text = f"{record.get('title') or ''} {record.get('abstract') or ''}"
    g = grade(policy.evidence, design=design, sample=sample.total if sample else None,
              text=text, publication_types=list(record.get("publication_types") or ()),
              replicated_by=len(replicated_with), has_pem_evidence=bool(evidence),
              retracted=is_retracted(record))
    stamps = snapshot.get("stamps") or {}
    fields = snapshot.get("fields") or {}
    year = rec.get("pub_year") or record.get("pub_year")
    return {
        "pmid": pmid, "slug": slugify(str(snapshot.get("title") or ""), pmid),
        "title": str(snapshot.get("title") or ""),
        "fields": {k: str(fields.get(k) or "") for k in
                   ("summary", "relevance", "limitations", "pem", "citation", "bibtex")},
        "pem_label": pem_label, "badge": BADGE_TEXTS.get(pem_label, "PEM unclear"),
        "badge_explanation": str(badge.get("explanation") or ""),
        "evidence": evidence,
        "design": design, "design_name": DESIGN_NAMES.get(design, design),
        "sample_size": sample.total if sample else None,
        "sample_text": ", ".join(s.text for _, s in sample.mentions) if sample else None,
        "tier": g.tier, "tier_title": g.title, "confidence": g.confidence,
        "tier_reasons": list(g.reasons), "preprint": g.preprint,
        "peer_reviewed": g.peer_reviewed,
        "status": "Reviewed",
        "notices": notices(record, snapshot, state=state, requeue_reason=requeue_reason),
        "retracted": is_retracted(record),
        "under_review": state == "pending",
        "year": year, "journal": rec.get("journal") or record.get("journal"),
        "authors": rec.get("authors") or record.get("authors") or [],
        "doi": rec.get("doi") or record.get("doi"),
        "pmcid": rec.get("pmcid") or record.get("pmcid"),
        "topics": topics(record),
        "abstract": str(record.get("abstract") or ""),
        "stamps": {k: stamps.get(k) for k in ("generator", "generator_version",
                                              "scanner_version", "policy_id",
                                              "policy_version", "policy_sha256", "accessed")},
        "approved_by": snapshot.get("approved_by"),
        "approved_at": _iso(snapshot.get("approved_at")),
        "entry_version": snapshot.get("version"),
        "history": [dict(h) for h in history], "approvals": [dict(a) for a in approvals],
        "replicated_with": list(replicated_with),
    }


def collect(conn: Connection, policy: Policy, definition_names: Mapping[str, str] | None = None,
            pmids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every public entry (or those of ``pmids``), by PMID."""
    names = dict(definition_names or {d.id: d.name for d in policy.case_definitions})
    stmt = (select(Draft.pmid, DraftBody.published).join(DraftBody,
                                                          DraftBody.draft_id == Draft.id)
            .where(Draft.has_published.is_(True)).order_by(Draft.pmid))
    if pmids is not None:
        stmt = stmt.where(Draft.pmid.in_(list(pmids)))
    rows = list(conn.execute(stmt).all())
    if not rows:
        return []
    keys = [r.pmid for r in rows]
    heads = {r.pmid: r for r in conn.execute(
        select(Draft.pmid, Draft.state, Draft.requeue_reason).where(Draft.pmid.in_(keys)))}
    records = {r.pmid: r._asdict() for r in conn.execute(
        select(Record.pmid, Record.title, Record.abstract, Record.abstract_sections,
               Record.authors, Record.journal, Record.pub_year, Record.doi, Record.pmcid,
               Record.mesh, Record.keywords, Record.publication_types,
               Record.comments_corrections, Record.is_retracted)
        .where(Record.pmid.in_(keys)))}
    history: dict[str, list[dict[str, Any]]] = {}
    for h in conn.execute(select(Classification.pmid, Classification.policy_version,
                                 Classification.pem_label, Classification.relevance_label,
                                 Classification.design, Classification.created_at)
                          .where(Classification.pmid.in_(keys))
                          .order_by(Classification.id)):
        rows_h = history.setdefault(h.pmid, [])
        item = {"policy_version": h.policy_version, "pem_label": h.pem_label,
                "badge": BADGE_TEXTS.get(h.pem_label, h.pem_label),
                "relevance": h.relevance_label, "design": h.design,
                "date": _iso(h.created_at.date() if h.created_at else None)}
        if rows_h and all(rows_h[-1][k] == item[k] for k in
                          ("policy_version", "pem_label", "relevance", "design")):
            continue    # a re-classification that changed nothing
        rows_h.append(item)
    approvals: dict[str, list[dict[str, Any]]] = {}
    for e in conn.execute(select(DraftEvent.pmid, DraftEvent.action, DraftEvent.at)
                          .where(DraftEvent.pmid.in_(keys),
                                 DraftEvent.action.in_(("approved", "requeued")))
                          .order_by(DraftEvent.id)):
        approvals.setdefault(e.pmid, []).append(
            {"action": e.action, "date": _iso(e.at.date() if e.at else None)})
    links = public.replications(conn)
    published = set(keys) if pmids is None else set(conn.execute(
        select(Draft.pmid).where(Draft.has_published.is_(True))).scalars())
    out = []
    for r in rows:
        head = heads[r.pmid]
        record = records.get(r.pmid) or {}
        out.append(build_entry(
            snapshot=r.published, record=record, state=head.state,
            requeue_reason=head.requeue_reason, history=history.get(r.pmid, []),
            approvals=approvals.get(r.pmid, []),
            replicated_with=[p for p in links.get(r.pmid, []) if p in published],
            policy=policy, definition_names=names))
    return out


def withdrawn(conn: Connection) -> list[str]:
    """PMIDs whose published entry was withdrawn (rejected after approval)."""
    rows = conn.execute(select(DraftEvent.pmid, DraftEvent.detail)
                        .where(DraftEvent.action == "rejected")).all()
    gone = {r.pmid for r in rows if (r.detail or {}).get("withdrawn")}
    live = {r.pmid for r in store.published(conn)}
    return sorted(gone - live)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
