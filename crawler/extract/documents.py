"""Text of attached documents (PDF, DOC, DOCX, XLS, XLSX, and images and scanned PDF pages by
OCR: crawler.extract.ocr), read in a child process.

A crawled file is hostile: a corrupt or crafted PDF can make a parser loop or eat memory. So
each file is read by `python -m crawler.extract.documents TYPE` in a child process that caps its own
address space and CPU time, under a wall-clock limit set by the parent, and dies with the
parent. Whatever goes wrong comes back as a DocumentError with a message for the user, never a
crash or a hang.

The file type is decided by the bytes (magic numbers), not by the URL or the Content-Type,
which government servers often get wrong.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from crawler.lifeline import die_with_parent
from crawler.extract.ocr import DEFAULT_OCR_LANGUAGES, IMAGE_TYPES, OcrError, OcrText, ocr_image, ocr_pdf_pages, sniff_image_type

FILE_TYPES = ("pdf", "doc", "docx", "xls", "xlsx", *IMAGE_TYPES)
DEFAULT_TIME_LIMIT = 60.0  # seconds of wall-clock time per file
DEFAULT_MEMORY_LIMIT = 1 << 30  # bytes of address space for the child
MAX_TEXT_CHARS = 2_000_000  # a document's text is cut here
OCR_SHARE_OF_TIME_LIMIT = 0.6  # OCR starts no new page after this share of the time limit: a long scan keeps the pages read
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97 / Excel 97 / WPS: OLE compound file
_ZIP = b"PK\x03\x04"  # DOCX / XLSX: Office Open XML
# A PDF line that ends like this continues on the next line (a Chinese sentence wrapped by layout).
_WRAPPED_LINE_END = re.compile(r"[\u3400-\u9fff，、（“《]$")


class DocumentError(Exception):
    """The file could not be read; the message says why, for the fetch record."""


@dataclass(frozen=True)
class DocumentReading:
    """What reading a fetched file gave: its type and text, or why there is none. Text read by
    OCR says so (`text_origin` "ocr"), with its confidence and the hashes of the page images read."""

    file_type: str | None
    text: str = ""
    error: str | None = None
    text_origin: str = "text"  # "ocr": read from images, not the file's own characters
    ocr_confidence: float | None = None
    ocr_page_hashes: tuple[str, ...] = ()
    ocr_skipped_pages: int = 0
    ocr_error: str | None = None  # why a scan has no text: OCR could not run


def read_document(body: bytes, ocr_languages: tuple[str, ...] = DEFAULT_OCR_LANGUAGES) -> DocumentReading:
    """Sniff and read a fetched file; never raises for a bad file (the error is the result)."""
    file_type = sniff_file_type(body)
    if file_type is None:
        return DocumentReading(None, error=f"not a PDF, DOC, DOCX, XLS, XLSX or image file ({len(body)} bytes)")
    try:
        return extract_document_text(body, file_type, ocr_languages=ocr_languages)
    except DocumentError as error:
        return DocumentReading(file_type, error=str(error))


def sniff_file_type(body: bytes) -> str | None:
    """pdf, doc, docx, xls, xlsx or an image type (jpeg, png, gif, tiff) from the file's own
    bytes; None for anything else (an HTML error page, an archive)."""
    if b"%PDF-" in body[:1024]:
        return "pdf"
    if body.startswith(_OLE):
        if "WordDocument".encode("utf-16-le") in body:  # the streams' names, in the file's directory
            return "doc"
        if "Workbook".encode("utf-16-le") in body or "Book".encode("utf-16-le") in body:
            return "xls"
        return None
    if body.startswith(_ZIP):
        if b"word/document.xml" in body:
            return "docx"
        if b"xl/workbook.xml" in body:
            return "xlsx"
    return sniff_image_type(body)


def extract_document_text(
    body: bytes, file_type: str, time_limit: float = DEFAULT_TIME_LIMIT, memory_limit: int = DEFAULT_MEMORY_LIMIT,
    ocr_languages: tuple[str, ...] = DEFAULT_OCR_LANGUAGES,
) -> DocumentReading:
    """The text of a document (may be empty: a scan OCR could not read), read in a bounded child
    process. Raises DocumentError when the file cannot be read within the limits."""
    if file_type not in FILE_TYPES:
        raise ValueError(f"unknown document type {file_type!r}; expected one of {', '.join(FILE_TYPES)}")
    command = [sys.executable, "-m", "crawler.extract.documents", file_type, str(memory_limit), str(int(time_limit) + 1),
               str(os.getpid()), "+".join(ocr_languages)]
    try:
        child = subprocess.run(command, input=body, capture_output=True, timeout=time_limit)
    except subprocess.TimeoutExpired:
        raise DocumentError(f"{file_type} text extraction took longer than {time_limit:g} s") from None
    if child.returncode != 0:
        lines = child.stderr.decode("utf-8", "replace").strip().splitlines()
        if child.returncode < 0:
            reason = f"killed by signal {-child.returncode} (CPU or memory limit)"
        else:
            reason = lines[-1] if lines else f"exit status {child.returncode}"
        raise DocumentError(f"{file_type} text extraction failed: {reason[:300]}")
    read = json.loads(child.stdout)
    return DocumentReading(file_type, read["text"][:MAX_TEXT_CHARS], text_origin=read["text_origin"],
                           ocr_confidence=read["ocr_confidence"], ocr_page_hashes=tuple(read["ocr_page_hashes"]),
                           ocr_skipped_pages=read["ocr_skipped_pages"], ocr_error=read["ocr_error"])


# ---- in the child process -------------------------------------------------------------------


def _read_pdf(body: bytes, ocr_languages: tuple[str, ...], ocr_seconds: float) -> str | OcrText:
    """The PDF's own text; pages without any (scans) are read by OCR, for up to `ocr_seconds`."""
    from pdfminer.high_level import extract_text

    pages = extract_text(io.BytesIO(body)).split("\f")  # pdfminer ends each page with a form feed
    scanned = ocr_pdf_pages(body, pages[:-1] if len(pages) > 1 else pages, ocr_languages, ocr_seconds)
    if scanned is None:
        return _unwrap("\n".join(pages))
    return dataclasses.replace(scanned, text=_unwrap(scanned.text))


def _unwrap(text: str) -> str:
    """PDF lines joined back where layout wrapped a Chinese sentence: a break after 转移 would
    otherwise split 转移就业 from itself. A line ending in 。, a digit or Latin text stays a line."""
    lines: list[str] = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        if lines and _WRAPPED_LINE_END.search(lines[-1]):
            lines[-1] += line
        else:
            lines.append(line)
    return "\n".join(lines)


def _read_docx(body: bytes) -> str:
    import docx
    from docx.table import Table

    def blocks(container) -> Iterator[str]:
        for block in container.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    yield "\t".join(cell.text for cell in row.cells)
            else:
                yield block.text

    return "\n".join(blocks(docx.Document(io.BytesIO(body))))


def _read_doc(body: bytes) -> str:
    """Word 97 files through antiword (Debian package `antiword`), which decodes CP936 text."""
    antiword = shutil.which("antiword")
    if antiword is None:
        raise DocumentError("antiword is not installed (apt-get install antiword); legacy .doc files cannot be read")
    with tempfile.NamedTemporaryFile(suffix=".doc") as file:
        file.write(body)
        file.flush()
        result = subprocess.run([antiword, "-m", "UTF-8.txt", file.name], capture_output=True)
    if result.returncode != 0:
        raise DocumentError(f"antiword: {result.stderr.decode('utf-8', 'replace').strip()[:200]}")
    return result.stdout.decode("utf-8", "replace")


def _read_xls(body: bytes) -> str:
    import xlrd

    book = xlrd.open_workbook(file_contents=body, on_demand=True)
    return _sheets_text((sheet.name, (sheet.row_values(i) for i in range(sheet.nrows))) for sheet in book.sheets())


def _read_xlsx(body: bytes) -> str:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    try:
        return _sheets_text((sheet.title, sheet.iter_rows(values_only=True)) for sheet in book.worksheets)
    finally:
        book.close()


def _sheets_text(sheets: Iterable[tuple[str, Iterable[Iterable[object]]]]) -> str:
    """Sheet name, then one line per row with its non-empty cells separated by tabs."""
    lines = []
    for name, rows in sheets:
        lines.append(name)
        for row in rows:
            cells = [_cell_text(value) for value in row]
            if any(cells):
                lines.append("\t".join(cell for cell in cells if cell))
    return "\n".join(lines)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets store 15 as 15.0
    return str(value)


_READERS = {"doc": _read_doc, "docx": _read_docx, "xls": _read_xls, "xlsx": _read_xlsx}


def _limit_self(memory_limit: int, cpu_seconds: int) -> None:
    """Cap this process (and antiword, which inherits it) before touching the file."""
    for limit, value in ((resource.RLIMIT_AS, memory_limit), (resource.RLIMIT_CPU, cpu_seconds)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):  # macOS does not enforce RLIMIT_AS; the wall-clock limit still holds
            pass


def _read(body: bytes, file_type: str, ocr_languages: tuple[str, ...], ocr_seconds: float) -> dict:
    """What the child answers: the text, where it came from, and OCR's confidence. A scan
    that OCR cannot read (Tesseract missing) is kept without text, with the reason."""
    no_ocr = dict(text_origin="text", ocr_confidence=None, ocr_page_hashes=[], ocr_skipped_pages=0, ocr_error=None)
    try:
        if file_type in IMAGE_TYPES:
            scan = ocr_image(body, ocr_languages)
            text = dataclasses.replace(scan, text=_unwrap(scan.text))
        elif file_type == "pdf":
            text = _read_pdf(body, ocr_languages, ocr_seconds)
        else:
            text = _READERS[file_type](body)
    except OcrError as error:
        return {**no_ocr, "text": "", "ocr_error": str(error)}
    if isinstance(text, OcrText):
        return dict(text=text.text[:MAX_TEXT_CHARS], text_origin="ocr", ocr_confidence=text.confidence,
                    ocr_page_hashes=list(text.page_hashes), ocr_skipped_pages=text.skipped_pages, ocr_error=None)
    return {**no_ocr, "text": text[:MAX_TEXT_CHARS]}


def _main(argv: list[str]) -> int:
    file_type, memory_limit, cpu_seconds, parent_pid = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    die_with_parent(parent_pid)  # a killed crawl leaves no reader behind
    ocr_languages = tuple(argv[4].split("+"))
    _limit_self(memory_limit, cpu_seconds)
    body = sys.stdin.buffer.read()
    try:
        read = _read(body, file_type, ocr_languages, cpu_seconds * OCR_SHARE_OF_TIME_LIMIT)
    except MemoryError:
        print(f"ran out of memory (limit {memory_limit >> 20} MiB)", file=sys.stderr)
        return 1
    except Exception as error:  # a corrupt file: any parser exception is the answer
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(json.dumps(read, ensure_ascii=False).encode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
