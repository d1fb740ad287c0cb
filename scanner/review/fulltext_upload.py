"""A curator's copy of a full text: a PDF or plain text in, the text the reader reads out.

What is accepted, checked on the bytes and never on the file name alone:

* a PDF: the file starts with the ``%PDF-`` magic (after ASCII whitespace). Its text layer
  is extracted with pypdf, page by page (pages joined by a newline), up to
  ``review.upload_max_pages`` pages. pypdf only parses: nothing in the file is executed
  (no JavaScript, no actions, no fonts or links fetched). A PDF without a text layer (a
  scan) is refused with a clear message, as is an encrypted one;
* plain text: UTF-8 (a BOM is dropped) without NUL bytes.

Anything else, or anything over ``review.upload_max_mb``, is refused. The text is stored as
extracted (line ends normalised to ``\\n``, NULs removed): the reader's evidence offsets
index exactly that text (``classifiers/document.py`` ``from_plain`` never changes it).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

from ..errors import ReviewError

log = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
#: Fewer letters than this over the whole PDF: it has no usable text layer.
MIN_PDF_LETTERS = 100
KINDS = ("pdf", "text", "pasted")


class UploadError(ReviewError):
    """An uploaded full text that cannot be used; nothing was stored."""

    http_status = 422


class UploadTooLargeError(UploadError):
    http_status = 413


class UnsupportedUploadError(UploadError):
    http_status = 415


@dataclass(frozen=True)
class Extracted:
    """The text read from one upload, with what the audit records about the upload."""

    text: str
    kind: str              # "pdf" | "text" | "pasted"
    size: int              # bytes uploaded
    sha256: str            # of the uploaded bytes
    pages: int | None      # PDF pages read
    filename: str | None

    @property
    def text_sha256(self) -> str:
        return text_sha256(self.text)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _safe_name(filename: str | None) -> str | None:
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:200]
    return name or None


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise UploadTooLargeError(
            f"the file is too large: {size / 1e6:.1f} MB, the limit is "
            f"{max_bytes / 1e6:.0f} MB (review.upload_max_mb); nothing was stored")


def is_pdf(data: bytes) -> bool:
    return data.lstrip(b" \t\r\n\x0c")[:5] == PDF_MAGIC


def pdf_text(data: bytes, max_pages: int) -> tuple[str, int]:
    """The text layer of a PDF (pages joined by a newline) and the number of pages read."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (PyPdfError, NotImplementedError) as exc:
                raise UploadError("the PDF is encrypted and cannot be read; upload a copy "
                                  "without a password or paste the methods text; nothing "
                                  "was stored") from exc
            if not opened:
                raise UploadError("the PDF is password-protected; upload a copy without a "
                                  "password or paste the methods text; nothing was stored")
        n = len(reader.pages)
        pages = []
        for i in range(min(n, max_pages)):
            pages.append(reader.pages[i].extract_text() or "")
    except UploadError:
        raise
    except FileNotDecryptedError as exc:
        raise UploadError("the PDF is password-protected; upload a copy without a password "
                          "or paste the methods text; nothing was stored") from exc
    except Exception as exc:  # any parser failure is a bad upload
        log.info("pdf_unreadable error=%s", exc)
        raise UploadError(f"the PDF could not be read ({type(exc).__name__}: "
                          f"{str(exc)[:120]}); nothing was stored") from exc
    if n == 0:
        raise UploadError("the PDF has no pages; nothing was stored")
    text = _clean("\n".join(p.rstrip("\n") for p in pages))
    letters = sum(ch.isalpha() for ch in text)
    if letters < MIN_PDF_LETTERS:
        raise UploadError(
            f"the PDF has no text layer ({min(n, max_pages)} page(s), {letters} letters of "
            "text): it looks like a scan. Run text recognition (OCR) on it first, or paste "
            "the methods text instead; nothing was stored")
    return text, min(n, max_pages)


def plain_text(data: bytes) -> str:
    if b"\x00" in data:
        raise UnsupportedUploadError(
            "only a PDF or plain UTF-8 text can be read: the file is neither (it is binary "
            "and does not start with %PDF-); nothing was stored")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedUploadError(
            "only a PDF or plain UTF-8 text can be read: the file is not a PDF (no %PDF- "
            "header) and not UTF-8 text; nothing was stored") from None
    return _clean(text)


def extract(data: bytes, filename: str | None, *, max_bytes: int,
            max_pages: int) -> Extracted:
    """The text of an uploaded file, or an :class:`UploadError` saying why not."""
    check_size(len(data), max_bytes)
    if not data.strip():
        raise UploadError("the file is empty; nothing was stored")
    name = _safe_name(filename)
    digest = hashlib.sha256(data).hexdigest()
    if is_pdf(data):
        text, pages = pdf_text(data, max_pages)
        return Extracted(text, "pdf", len(data), digest, pages, name)
    if name and name.lower().endswith(".pdf"):
        raise UnsupportedUploadError(
            f"{name} is not a PDF: it does not start with %PDF-; nothing was stored")
    text = plain_text(data)
    if not text.strip():
        raise UploadError("the text is empty; nothing was stored")
    return Extracted(text, "text", len(data), digest, None, name)


def pasted(text: str, *, max_bytes: int) -> Extracted:
    """Methods text pasted into the form, stored as given (line ends normalised)."""
    data = text.encode("utf-8")
    check_size(len(data), max_bytes)
    clean = _clean(text)
    if not clean.strip():
        raise UploadError("the pasted text is empty; nothing was stored")
    return Extracted(clean, "pasted", len(data), hashlib.sha256(data).hexdigest(), None,
                     None)
