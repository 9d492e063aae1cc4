"""OCR of scans made from real documents (tests/scans.py): a real government PDF printed and
scanned, real report text printed and photographed, the Uyghur and Tibetan names of the regions.
Character accuracy against the known text is printed (pytest -s) and held to a floor."""

from __future__ import annotations

import hashlib

import pytest

from crawler.compare.figures import extract_figures, one_per_figure
from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.compare.scans import same_reading
from crawler.extract.documents import read_document
from crawler.compare.normalise import normalise_text
from crawler.extract.ocr import OcrText, missing_languages, ocr_image, ocr_pdf_pages
from crawler.pipeline.store import Attachment, store_capture
from storage import open_database, queries, reports
from tests.conftest import FILES
from tests.scans import character_accuracy, font_for, image_bytes, image_pdf, pdf_page_image, render_text, scanned, wrap

REPORT_PDF = (FILES / "attachments" / "shenzhen_stats_2021_xingbie.pdf").read_bytes()
EXCERPTS = (FILES / "text" / "xinjiang_tibet_labor_transfer_excerpts.md").read_text("utf-8")
# 天山网 2018-01-09: 农村富余劳动力累计转移就业275万人次 (excerpt 2), as printed lines.
REPORT_LINES = wrap("\n".join(EXCERPTS.split("## 2.")[1].split("---")[0].splitlines()[4:]), 40)[:8]
# The regions' official names, as on their governments' own signs.
UYGHUR_LINES = ["شىنجاڭ ئۇيغۇر ئاپتونوم رايونى", "ئۈرۈمچى شەھىرى"]
TIBETAN_LINES = ["བོད་རང་སྐྱོང་ལྗོངས།", "ལྷ་ས་གྲོང་ཁྱེར།"]
ARTICLE_URL = "http://rst.example/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
SCAN_URL = "http://rst.example/xjrst/c112676/201801/W020180109553142613775.png"
MATCHER = KeywordMatcher({"coercion": KeywordSet(terms=["内生动力", "思想工作"])})


def needs(language: str):
    missing = missing_languages((language,)) or ([] if font_for(language) else [f"a font for {language}"])
    package = f"tesseract-ocr-{language.replace('_', '-')}"
    return pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)} ({package}; see setup.sh --test)")


def pdf_page_text(number: int) -> str:
    from pdfminer.high_level import extract_text
    import io

    return extract_text(io.BytesIO(REPORT_PDF), page_numbers=[number - 1])


def quotas(text: str) -> set[tuple[float, str]]:
    return {(figure.value, figure.unit) for figure in one_per_figure(extract_figures(text))}


@needs("chi_sim")
def test_a_photographed_report_attachment_is_read_and_its_quota_is_a_figure():
    scan = image_bytes(scanned(render_text(REPORT_LINES, "chi_sim")), "JPEG")

    reading = read_document(scan)

    accuracy = character_accuracy("\n".join(REPORT_LINES), reading.text)
    print(f"report text, JPEG scan, chi_sim: character accuracy {accuracy:.1%}, confidence {reading.ocr_confidence:.0%}")
    assert (reading.file_type, reading.text_origin, reading.error) == ("jpeg", "ocr", None)
    assert accuracy >= 0.9 and reading.ocr_confidence > 0.6
    assert (2_750_000, "人次") in quotas(reading.text)  # 农村富余劳动力累计转移就业275万人次
    assert reading.ocr_page_hashes == (hashlib.sha256(scan).hexdigest(),)


@needs("chi_sim")
def test_a_real_pdf_printed_and_scanned_is_read_by_ocr_only_where_it_has_no_text():
    scan = image_pdf([scanned(pdf_page_image(REPORT_PDF, 2))])

    reading = read_document(scan)

    accuracy = character_accuracy(pdf_page_text(2), reading.text)
    print(f"statistics PDF page 2, scanned at 150 dpi, chi_sim: character accuracy {accuracy:.1%}")
    assert (reading.file_type, reading.text_origin, len(reading.ocr_page_hashes)) == ("pdf", "ocr", 1)
    assert accuracy >= 0.8
    original = read_document(REPORT_PDF)  # its text layer is read, never OCR'd
    assert (original.text_origin, original.ocr_confidence, original.ocr_page_hashes) == ("text", None, ())


def test_a_long_scan_keeps_the_pages_read_in_time_and_counts_the_others():
    scan = image_pdf([scanned(pdf_page_image(REPORT_PDF, number)) for number in (2, 3)])

    read = ocr_pdf_pages(scan, ["", ""], seconds=0)

    assert (read.text, read.page_hashes, read.skipped_pages) == ("", (), 2)


def test_without_tesseract_a_scan_is_kept_without_text_and_says_why(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    scan = image_bytes(scanned(render_text(REPORT_LINES[:2], "chi_sim")))

    reading = read_document(scan)

    assert (reading.file_type, reading.text, reading.error) == ("png", "", None)
    assert "tesseract is not installed (apt-get install tesseract-ocr)" in reading.ocr_error


@needs("uig")
def test_uyghur_is_read():
    reading = ocr_image(image_bytes(scanned(render_text(UYGHUR_LINES, "uig", size=36))), ("uig",))

    accuracy = character_accuracy("\n".join(UYGHUR_LINES), reading.text)
    print(f"Uyghur, PNG scan, uig: character accuracy {accuracy:.1%}")
    assert accuracy >= 0.85 and UYGHUR_LINES[0] in reading.text


@needs("bod")
def test_tibetan_is_read():
    reading = ocr_image(image_bytes(scanned(render_text(TIBETAN_LINES, "bod", size=36))), ("bod",))

    accuracy = character_accuracy("\n".join(TIBETAN_LINES), reading.text)
    print(f"Tibetan, PNG scan, bod: character accuracy {accuracy:.1%}")
    assert accuracy >= 0.7 and "ལྷ་ས" in reading.text


def scan_of(lines: list[str], angle: float, seed: int) -> tuple[bytes, OcrText]:
    image = image_bytes(scanned(render_text(lines, "chi_sim"), angle=angle, seed=seed))
    return image, ocr_image(image)


@pytest.fixture(scope="module")
def rescans() -> dict[str, tuple[bytes, OcrText]]:
    """The report scanned three times, then revised (a quota) and scanned, then extended (a new
    sentence with mobilization terms) and scanned."""
    return {
        "first": scan_of(REPORT_LINES, 0.6, 1),
        "rescan": scan_of(REPORT_LINES, -0.4, 2),  # reads some lines out of order
        "rescan2": scan_of(REPORT_LINES, 1.0, 4),
        "revised": scan_of([line.replace("275万人次", "285万人次") for line in REPORT_LINES], -0.4, 2),
        "added": scan_of([*REPORT_LINES, "各地要激发内生动力，加强思想工作。"], -0.4, 2),
    }


@needs("chi_sim")
def test_rescans_of_one_page_read_the_same_and_a_revised_quota_or_a_new_term_does_not(rescans):
    first, revised, added = rescans["first"][1], rescans["revised"][1], rescans["added"][1]
    rescans = [rescans["rescan"][1], rescans["rescan2"][1]]

    assert first.page_hashes != rescans[0].page_hashes
    for rescan in rescans:
        assert same_reading(first.text, first.page_hashes, rescan.text, rescan.page_hashes, MATCHER)
    assert not same_reading(first.text, first.page_hashes, revised.text, revised.page_hashes, MATCHER)
    assert not same_reading(first.text, first.page_hashes, added.text, added.page_hashes, MATCHER)
    # The same page image is the same text, whatever OCR read: hashes are compared first.
    assert same_reading(first.text, first.page_hashes, "jitter", first.page_hashes)


def store_scan(db, scan: tuple[bytes, OcrText], fetched_at: str) -> str:
    image, reading = scan
    sha256 = hashlib.sha256(image).hexdigest()
    capture = queries.PageCapture(
        source_id="rst", url=SCAN_URL, kind="document", fetched_at=fetched_at, http_status=200, final_url=SCAN_URL,
        content_type="image/png", encoding="binary", title="附件1", published=None, text=normalise_text(reading.text),
        original_text=reading.text, text_sha256=sha256, body=image, body_sha256=sha256,
    )
    attachment = Attachment(ARTICLE_URL, "png", "ocr", reading.confidence, reading.page_hashes)
    return store_capture(db, None, capture, MATCHER, attachment=attachment)


@needs("chi_sim")
def test_a_rescanned_attachment_reports_no_jitter_but_a_revised_quota(rescans, tmp_path):
    db = open_database(tmp_path / "dw.db")
    db["sources"].insert({"id": "rst", "url": ARTICLE_URL, "type": "page", "added_at": "2026-11-20", "updated_at": "2026-11-20"})

    assert store_scan(db, rescans["first"], "2026-11-20T08:00:00+00:00") == queries.NEW
    assert store_scan(db, rescans["rescan"], "2026-11-21T08:00:00+00:00") == queries.CHANGED  # a new file: kept
    assert store_scan(db, rescans["revised"], "2026-11-22T08:00:00+00:00") == queries.CHANGED

    rescan_event, revision_event = reports.events(db, types=["changed"])
    diff = rescan_event["detail"]["diff"]
    assert diff["added"] == diff["removed"] == diff["changed"] == [] and "removed_figures" not in rescan_event["detail"]
    assert [f["value"] for f in revision_event["detail"]["removed_figures"]] == [2_750_000]
    assert {row["value"] for row in db.query("SELECT value FROM figures WHERE present = 1")} == {2_850_000}
    origins = db.execute("SELECT text_origin, ocr_page_hashes IS NOT NULL, ocr_confidence > 0.5 FROM snapshots").fetchall()
    assert origins == [("ocr", 1, 1)] * 3
