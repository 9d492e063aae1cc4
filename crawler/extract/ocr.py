"""OCR: the text of scanned PDF pages and of image attachments, read by Tesseract.

County notices and their 附件 are often scans (a photographed 名单, a stamped 通知 as an image
PDF, a JPG poster). Tesseract (Debian's `tesseract-ocr` with the `chi_sim`, `chi_tra`, `uig` and
`bod` language data) was chosen by measurement (see bench/ocr_bench.py and the README): it is the
only engine found that reads Uyghur and Tibetan, and its models are installed files, so nothing is
downloaded at run time.

These functions run inside the bounded document child process (crawler.extract.documents): Tesseract and
pdftoppm inherit its memory and CPU limits. OCR text is never taken for the page's own
characters: it is stored with `text_origin: ocr` and a confidence, and the digest says so.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from crawler.extract.ocr_languages import DEFAULT_OCR_LANGUAGES

IMAGE_TYPES = ("jpeg", "png", "gif", "tiff")
RESOLUTION_DPI = 150  # a scanned PDF page is rendered at this resolution for OCR
MIN_PAGE_CHARS = 10  # a PDF page with fewer characters of text (after spaces) is taken for a scan
MAX_PAGES = 50  # pages OCR'd per PDF: a 300-page scan would take minutes
_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"),
)
# Tesseract writes Chinese and Tibetan with a space between words it cut: no space is kept next
# to a CJK or Tibetan character (Uyghur and English keep theirs).
_UNSPACED = re.compile(r"[\u0f00-\u0fff\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


class OcrError(Exception):
    """OCR could not run (Tesseract or a language missing, or it failed); the message says what to do."""


@dataclass(frozen=True)
class OcrText:
    """Text read by OCR, with Tesseract's mean word confidence (0-1, weighted by characters), and
    the SHA-256 of each page image read: the same images are the same text, whatever OCR says."""

    text: str
    confidence: float | None
    page_hashes: tuple[str, ...]
    skipped_pages: int = 0  # scanned pages left unread: over MAX_PAGES or out of time


def sniff_image_type(body: bytes) -> str | None:
    """jpeg, png, gif or tiff from the file's own bytes; None for anything else."""
    return next((image_type for magic, image_type in _IMAGE_MAGIC if body.startswith(magic)), None)


def ocr_image(image: bytes, languages: tuple[str, ...] = DEFAULT_OCR_LANGUAGES) -> OcrText:
    """The text of one image (any type Tesseract's leptonica reads: JPEG, PNG, GIF, TIFF)."""
    text, confidence, characters = _tesseract(image, languages)
    return OcrText(text, confidence if characters else None, (hashlib.sha256(image).hexdigest(),))


def ocr_pdf_pages(body: bytes, page_texts: list[str], languages: tuple[str, ...] = DEFAULT_OCR_LANGUAGES,
                  seconds: float = float("inf")) -> OcrText | None:
    """The PDF's text with each page that has no text layer (a cheap check on `page_texts`, what
    the PDF's own text gave per page) replaced by its OCR text; None when every page has text.
    No page is started after `seconds`: the pages read are kept, the others counted as skipped."""
    scans = [number for number, text in enumerate(page_texts, start=1) if len(re.sub(r"\s", "", text)) < MIN_PAGE_CHARS]
    if not scans:
        return None
    deadline = time.monotonic() + seconds
    texts, hashes, weighted, characters = list(page_texts), [], 0.0, 0
    for number in scans[:MAX_PAGES]:
        if time.monotonic() > deadline:
            break
        image = render_pdf_page(body, number)
        hashes.append(hashlib.sha256(image).hexdigest())
        texts[number - 1], confidence, read = _tesseract(image, languages)
        weighted, characters = weighted + confidence * read, characters + read
    return OcrText("\n".join(text.strip() for text in texts if text.strip()),
                   weighted / characters if characters else None, tuple(hashes), len(scans) - len(hashes))


def render_pdf_page(body: bytes, number: int, resolution: int = RESOLUTION_DPI) -> bytes:
    """Page `number` (from 1) of a PDF as a greyscale PNG, by poppler's pdftoppm."""
    pdftoppm = _program("pdftoppm", "poppler-utils")
    with tempfile.TemporaryDirectory(prefix="docwatch-ocr-") as folder:
        pdf = Path(folder, "in.pdf")
        pdf.write_bytes(body)
        result = subprocess.run(
            [pdftoppm, "-r", str(resolution), "-gray", "-png", "-f", str(number), "-l", str(number), "-singlefile",
             str(pdf), str(Path(folder, "page"))],
            capture_output=True,
        )
        page = Path(folder, "page.png")
        if result.returncode != 0 or not page.exists():
            raise OcrError(f"pdftoppm could not render page {number}: {result.stderr.decode('utf-8', 'replace').strip()[:200]}")
        return page.read_bytes()


def missing_languages(languages: tuple[str, ...]) -> list[str]:
    """The languages whose Tesseract data is not installed (all of them without Tesseract)."""
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        return list(languages)
    listed = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True).stdout.split()
    return [language for language in languages if language not in listed]


def _tesseract(image: bytes, languages: tuple[str, ...]) -> tuple[str, float, int]:
    """(text, confidence 0-1, characters read) of one image, from Tesseract's TSV output."""
    tesseract = _program("tesseract", "tesseract-ocr")
    if missing := missing_languages(languages):
        packages = " ".join(f"tesseract-ocr-{language.replace('_', '-')}" for language in missing)
        raise OcrError(f"Tesseract has no data for {', '.join(missing)} (apt-get install {packages})")
    result = subprocess.run([tesseract, "stdin", "stdout", "-l", "+".join(languages), "tsv"], input=image,
                            capture_output=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    if result.returncode != 0:
        raise OcrError(f"tesseract failed: {result.stderr.decode('utf-8', 'replace').strip()[-200:]}")
    return _read_tsv(result.stdout.decode("utf-8", "replace"))


def _read_tsv(tsv: str) -> tuple[str, float, int]:
    """Lines of words rebuilt from Tesseract's TSV (level 5 rows are words, keyed by block,
    paragraph and line), and the confidence of its words weighted by their length."""
    lines: dict[tuple[str, str, str], list[str]] = {}
    weighted, characters = 0.0, 0
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        lines.setdefault((row["block_num"], row["par_num"], row["line_num"]), []).append(word)
        weighted += max(float(row["conf"]), 0.0) / 100 * len(word)
        characters += len(word)
    text = "\n".join(_join_words(words) for words in lines.values())
    return text, (weighted / characters if characters else 0.0), characters


def _join_words(words: list[str]) -> str:
    line = words[0]
    for word in words[1:]:
        line += word if _UNSPACED.match(line[-1]) or _UNSPACED.match(word[0]) else " " + word
    return line


def _program(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise OcrError(f"{name} is not installed (apt-get install {package}); scanned documents cannot be read")
    return path
