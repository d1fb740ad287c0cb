"""Export formats (scanner/export.py) over entries built from the demo drafts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

import pytest

from scanner.errors import ScannerError
from scanner.publish.export import CSV_COLUMNS, FORMATS, export_entries
from tests.test_drafts import demo_cases, parse_bibtex

RECORD_KEYS = ("authors", "journal", "journal_iso", "pub_year", "doi", "pmcid", "kind",
               "volume", "issue", "pages", "comments_corrections", "publication_types")


def _entry(pmid: str, n: int) -> dict[str, Any]:
    record, _, draft = demo_cases()[pmid]
    content = draft.to_json()
    return {"pmid": pmid, "title": record["title"], "fields": content["fields"],
            "badge": content["badge"], "stamps": content["stamps"],
            "retraction": content["retraction"],
            "record": {k: record[k] for k in RECORD_KEYS},
            "approved_by": f"curator{n % 3}",
            "approved_at": f"2026-03-{n % 28 + 1:02d}T10:00:00+00:00",
            "version": n + 1}


@pytest.fixture(scope="module")
def entries() -> list[dict[str, Any]]:
    pmids = sorted(demo_cases(), reverse=True)           # unsorted on purpose
    return [_entry(p, i) for i, p in enumerate(pmids)]


def test_unknown_format_is_refused(entries) -> None:
    with pytest.raises(ScannerError) as err:
        export_entries(entries, "docx")
    assert "docx" in str(err.value)
    for fmt in FORMATS:
        assert fmt in str(err.value)


def _pmids(out: str, fmt: str) -> list[str]:
    if fmt == "json":
        return [d["pmid"] for d in json.loads(out)]
    if fmt == "csv":
        return [r["pmid"] for r in csv.DictReader(io.StringIO(out))]
    if fmt == "bibtex":
        return [f["pmid"] for _, _, f in parse_bibtex(out)]
    if fmt == "ris":
        return re.findall(r"^ID  - (\d+)$", out, re.M)
    return re.findall(r"^\*PMID (\d+);", out, re.M)


def test_every_format_is_deterministic_and_sorted(entries) -> None:
    pmids = sorted(e["pmid"] for e in entries)
    for fmt in FORMATS:
        out = export_entries(entries, fmt)
        assert out == export_entries(list(reversed(entries)), fmt), fmt
        assert _pmids(out, fmt) == pmids, fmt
    assert json.loads(export_entries([], "json")) == []
    assert export_entries([], "csv").strip() == ",".join(CSV_COLUMNS)


def test_json(entries) -> None:
    out = export_entries(entries, "json")
    assert "β" in out                                    # ensure_ascii=False
    data = json.loads(out)
    assert [d["pmid"] for d in data] == sorted(e["pmid"] for e in entries)
    assert list(data[0])[:10] == ["pmid", "title", "version", "approved_by", "approved_at",
                                  "badge", "fields", "retraction", "stamps", "record"]
    by_pmid = {e["pmid"]: e for e in entries}
    for d in data:
        e = by_pmid[d["pmid"]]
        assert d["fields"] == e["fields"] and d["stamps"] == e["stamps"]
        assert d["badge"] == e["badge"] and d["approved_at"] == e["approved_at"]
        assert list(d["stamps"]) == sorted(d["stamps"])
    retracted = next(d for d in data if d["pmid"] == "99000003")
    assert retracted["retraction"]["pmids"] == ["99000032"]


def test_csv_round_trip(entries) -> None:
    out = export_entries(entries, "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(entries)
    assert tuple(rows[0]) == CSV_COLUMNS
    for col in ("pmid", "title", "pem_label", "summary", "relevance", "limitations", "citation",
                "doi", "policy_version", "scanner_version", "generator_version", "accessed",
                "approved_by", "approved_at"):
        assert col in CSV_COLUMNS
    by_pmid = {e["pmid"]: e for e in entries}
    assert [r["pmid"] for r in rows] == sorted(by_pmid)
    for row in rows:
        e = by_pmid[row["pmid"]]
        for field in ("summary", "relevance", "limitations", "pem", "citation"):
            assert row[field] == e["fields"][field]
        assert row["title"] == e["title"] and row["doi"] == e["record"]["doi"]
        assert row["pem_label"] == e["badge"]["label"]
        for stamp in ("policy_version", "policy_sha256", "scanner_version",
                      "generator_version", "accessed"):
            assert row[stamp] == str(e["stamps"][stamp])
        assert row["approved_by"] == e["approved_by"] and row["version"] == str(e["version"])
        assert row["retracted"] == ("true" if row["pmid"] == "99000003" else "false")


def test_csv_cells_cannot_run_as_formulas(entries) -> None:
    entry = {**entries[0], "fields": {**entries[0]["fields"], "summary": "=HYPERLINK(1)"}}
    (row,) = csv.DictReader(io.StringIO(export_entries([entry], "csv")))
    assert row["summary"] == "'=HYPERLINK(1)"


def test_bibtex_carries_the_stamps(entries) -> None:
    parsed = parse_bibtex(export_entries(entries, "bibtex"))
    assert len(parsed) == len(entries)
    by_pmid = {e["pmid"]: e for e in entries}
    for _, _, fields in parsed:
        e = by_pmid[fields["pmid"]]
        stamps = fields["annote"]
        for value in (e["stamps"]["policy_version"], e["stamps"]["policy_sha256"],
                      e["stamps"]["scanner_version"], e["stamps"]["accessed"],
                      e["approved_by"], e["badge"]["title"]):
            assert str(value) in stamps
        assert f"scanner.drafts {e['stamps']['generator_version']}" in stamps
        assert fields.get("doi") == e["record"]["doi"]
    retracted = next(f for _, _, f in parsed if f["pmid"] == "99000003")
    assert "Retracted" in retracted["annote"] and "Retracted" in retracted["note"]


def test_bibtex_edited_or_broken_entries(entries) -> None:
    edited = {**entries[0], "fields": {**entries[0]["fields"], "bibtex": (
        "@article{mine,\n  title = {Mine},\n  annote = {curator's own}\n}")}}
    broken = {**entries[1], "fields": {**entries[1]["fields"], "bibtex": "@article{x, title = {"}}
    parsed = parse_bibtex(export_entries([edited, broken], "bibtex"))
    by_key = {key: fields for _, key, fields in parsed}
    assert by_key["mine"]["annote"] == "curator's own"
    assert "policy" in by_key["mine"]["addendum"]
    rebuilt = next(f for k, f in by_key.items() if k != "mine")
    assert rebuilt["pmid"] == broken["pmid"] and "policy" in rebuilt["annote"]


def test_ris(entries) -> None:
    out = export_entries(entries, "ris")
    records = [r for r in out.split("ER  - \n") if r.strip()]
    assert len(records) == len(entries)
    by_pmid = {e["pmid"]: e for e in entries}
    for rec in records:
        lines = [tuple(line.split("  - ", 1)) for line in rec.strip().splitlines()]
        assert lines[0] == ("TY", "JOUR")
        tags: dict[str, list[str]] = {}
        for tag, value in lines:
            assert re.fullmatch(r"[A-Z][A-Z0-9]", tag)
            tags.setdefault(tag, []).append(value)
        e = by_pmid[tags["ID"][0]]
        assert tags["AN"] == [f"PMID: {e['pmid']}"]
        assert tags["TI"] == [e["title"].removesuffix(".")]
        assert len(tags.get("AU", [])) == len(e["record"]["authors"])
        assert tags["PY"] == [str(e["record"]["pub_year"])]
        assert tags.get("DO") == ([e["record"]["doi"]] if e["record"]["doi"] else None)
        assert tags["AB"] == [e["fields"]["summary"]]
        notes = " ".join(tags["N1"])
        assert e["badge"]["title"] in notes and e["stamps"]["policy_sha256"] in notes
        assert f"scanner {e['stamps']['scanner_version']}" in notes
        if e["pmid"] == "99000003":
            assert "Retracted" in notes
    assert "AU  - Whitcombe, Helen M\n" in out


def test_markdown(entries) -> None:
    out = export_entries(entries, "markdown")
    for e in entries:
        assert f"## {e['title']}" in out
        assert e["fields"]["summary"].split(" ")[0] in out
    assert out.count("### What it does not show") == len(entries)
    required = sum(e["badge"]["label"] == "required" for e in entries)
    assert out.count("**PEM required.** Post-exertional malaise (PEM) was an explicit") == required
    assert "> **Retracted: this paper has been retracted" in out
    assert out.count("policy mecfs-pem v0.1 (sha256 ") == len(entries)
    weird = {**entries[0], "title": "# A *bold* [link](x) <b>"}
    assert r"## \# A \*bold\* \[link\](x) \<b\>" in export_entries([weird], "markdown")


def test_approval_time_may_be_a_datetime(entries) -> None:
    entry = {**entries[0], "approved_at": dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)}
    (row,) = csv.DictReader(io.StringIO(export_entries([entry], "csv")))
    assert row["approved_at"] == "2026-03-02T09:30:00+00:00"
    assert json.loads(export_entries([entry], "json"))[0]["approved_at"] == row["approved_at"]
