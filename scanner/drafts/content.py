"""What a generated evidence draft holds: plain-text fields, sentences with their sources."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: The draft's text fields, in display order; curators edit each one as plain text.
FIELDS = ("summary", "relevance", "limitations", "pem", "citation", "bibtex")
#: The fields whose sentences must each be traceable to the paper.
PROSE_FIELDS = ("summary", "relevance", "limitations", "pem")
FLAG_KINDS = ("causal_claim_non_randomised", "mecfs_claim_without_cohort",
              "unsupported_sentence", "retracted")


@dataclass(frozen=True)
class SourceSpan:
    """Where a sentence's content came from.

    For ``title``/``abstract``/``fulltext``: ``record[source][start:end] == text``. For
    ``record``: ``field`` names the record field and ``text`` is its value, or one value
    inside it (an author's name, a publication type, a linked PMID); start/end index ``text``.
    """

    source: str
    start: int
    end: int
    text: str
    field: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "start": self.start, "end": self.end,
                "text": self.text, "field": self.field}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SourceSpan:
        return cls(source=d["source"], start=d["start"], end=d["end"], text=d["text"],
                   field=d.get("field"))


@dataclass(frozen=True)
class Sentence:
    """One generated sentence of a prose field, the spans it rests on and the rule that made it."""

    field: str
    text: str
    spans: tuple[SourceSpan, ...]
    rule: str

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "text": self.text, "rule": self.rule,
                "spans": [s.to_json() for s in self.spans]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Sentence:
        return cls(field=d["field"], text=d["text"], rule=d["rule"],
                   spans=tuple(SourceSpan.from_json(s) for s in d["spans"]))


@dataclass(frozen=True)
class Flag:
    """Wording a curator should look at before approving."""

    kind: str
    field: str
    sentence: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "field": self.field, "sentence": self.sentence,
                "message": self.message}


@dataclass(frozen=True)
class DraftContent:
    """A generated evidence draft (see ``generate.build_draft``)."""

    fields: dict[str, str]
    sentences: tuple[Sentence, ...]
    badge: dict[str, Any]
    stamps: dict[str, Any]
    retraction: dict[str, Any] | None
    leads: tuple[str, ...]

    def field_sentences(self, field: str) -> tuple[Sentence, ...]:
        return tuple(s for s in self.sentences if s.field == field)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_json` of the result gives back an equal object."""
        return {
            "fields": {k: self.fields[k] for k in FIELDS if k in self.fields},
            "sentences": [s.to_json() for s in self.sentences],
            "badge": copy.deepcopy(self.badge),
            "stamps": copy.deepcopy(self.stamps),
            "retraction": copy.deepcopy(self.retraction),
            "leads": list(self.leads),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DraftContent:
        return cls(fields=dict(d["fields"]),
                   sentences=tuple(Sentence.from_json(s) for s in d["sentences"]),
                   badge=copy.deepcopy(dict(d["badge"])),
                   stamps=copy.deepcopy(dict(d["stamps"])),
                   retraction=copy.deepcopy(dict(d["retraction"])) if d.get("retraction")
                   else None,
                   leads=tuple(d.get("leads", ())))


# --- spans ----------------------------------------------------------------------------------

def text_span(source: str, start: int, end: int, text: str) -> SourceSpan:
    return SourceSpan(source=source, start=start, end=end, text=text[start:end])


def record_span(field: str, value: Any) -> SourceSpan:
    text = str(value)
    return SourceSpan(source="record", start=0, end=len(text), text=text, field=field)


def _scalars(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _scalars(v)
    elif value is not None:
        yield str(value)


def verify_span(record: Mapping[str, Any], span: SourceSpan) -> bool:
    """True when ``span`` points at exactly its text in ``record``."""
    if span.source == "record":
        if span.field is None or span.field not in record:
            return False
        value = record[span.field]
        return span.text == str(value) or span.text in set(_scalars(value))
    text = record.get(span.source)
    return (isinstance(text, str) and 0 <= span.start <= span.end <= len(text)
            and text[span.start:span.end] == span.text)
