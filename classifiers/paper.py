"""What the classifiers read: one paper's text and indexing, from any source."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class _Heading(Protocol):
    @property
    def descriptor(self) -> str: ...


class RecordLike(Protocol):
    """What :meth:`Paper.from_record` reads: ``scanner.pubmed.parse.ParsedRecord`` has it
    (a protocol, so that ``classifiers`` never imports ``scanner``)."""

    @property
    def pmid(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def abstract(self) -> str: ...
    @property
    def mesh(self) -> Sequence[_Heading]: ...
    @property
    def publication_types(self) -> tuple[str, ...]: ...
    @property
    def keywords(self) -> tuple[str, ...]: ...
    @property
    def is_retracted(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Paper:
    pmid: str
    title: str
    abstract: str
    mesh: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    retracted: bool = False

    @classmethod
    def from_record(cls, rec: RecordLike) -> Paper:
        return cls(pmid=rec.pmid, title=rec.title, abstract=rec.abstract,
                   mesh=tuple(m.descriptor for m in rec.mesh),
                   publication_types=rec.publication_types, keywords=rec.keywords,
                   retracted=rec.is_retracted)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Paper:
        """A record from a JSON line with at least pmid, title and abstract."""
        return cls(pmid=str(d["pmid"]), title=d.get("title") or "",
                   abstract=d.get("abstract") or "", mesh=tuple(d.get("mesh") or ()),
                   publication_types=tuple(d.get("publication_types") or ()),
                   keywords=tuple(d.get("keywords") or ()))

    @property
    def text(self) -> str:
        """The text models read: title, abstract, keywords and MeSH descriptors."""
        parts = [self.title, self.abstract]
        if self.keywords:
            parts.append("Keywords: " + "; ".join(self.keywords))
        if self.mesh:
            parts.append("MeSH: " + "; ".join(self.mesh))
        return "\n".join(p for p in parts if p)

    @property
    def text_sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()
