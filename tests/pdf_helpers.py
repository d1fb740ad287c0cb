"""Tiny PDFs written by the tests themselves (no binary fixtures): text pages, or pages
with a drawing and no text layer (what a scan looks like to a text extractor)."""

from __future__ import annotations

from collections.abc import Sequence


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: Sequence[Sequence[str]], *, javascript: bool = False) -> bytes:
    """A PDF 1.4 file: one page per item, one text line (Helvetica) per string; a page
    given no lines gets a filled rectangle and no text. ``javascript`` adds an OpenAction
    script, which a reader must never run."""
    n = len(pages)
    action = (b" /OpenAction << /S /JavaScript /JS (app.alert\\('run'\\);) >>"
              if javascript else b"")
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R" + action + b" >>",
        ("<< /Type /Pages /Kids [" + " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
         + f"] /Count {n} >>").encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        if lines:
            ops = ["BT", "/F1 10 Tf", "13 TL", "56 770 Td"]
            ops += [f"({_escape(line)}) Tj T*" for line in lines]
            ops.append("ET")
        else:
            ops = ["0.6 g", "56 56 500 680 re f"]
        stream = "\n".join(ops).encode("cp1252")
        objects.append(("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                        f"<< /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>").encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)


#: A methods section that names the definition used for inclusion: the reader's evidence.
METHODS_QUOTE = "All patients met the Canadian Consensus Criteria"
PAPER_PAGES: tuple[tuple[str, ...], ...] = (
    ("Journal of Demo Research 2026; 1: 1-2",
     "Immune markers in a clinic cohort",
     "Introduction",
     "Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) is a chronic illness in",
     "which exertion worsens symptoms. We measured immune markers in patients.",
     "Methods",
     "Participants",
     "Forty patients were recruited from a specialist clinic between 2020 and 2022.",
     f"{METHODS_QUOTE}, which require post-exertional malaise, and",
     "were compared with thirty healthy controls matched for age and sex."),
    ("Journal of Demo Research 2026; 1: 1-2",
     "Results",
     "Marker levels differed between patients and controls in the first week.",
     "Discussion",
     "These findings need replication in a larger cohort."),
)
