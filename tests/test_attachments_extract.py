"""Issue 8: the text of real attachments, and the bounds that keep a hostile file from hurting the crawl."""

import io
import zipfile

import pytest

from crawler.extract.documents import DocumentError, extract_document_text, sniff_file_type
from tests.conftest import FILES
from tests.test_attachments_e2e import DOCX_TEXT, XLSX_ROW, blank_pdf, write_docx, write_xlsx

ATTACHMENTS = FILES / "attachments"


@pytest.fixture(scope="module")
def office_files(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("office")
    write_docx(folder / "a.docx", "新疆2019年上半年就业情况", DOCX_TEXT)
    write_xlsx(folder / "a.xlsx")
    return {"docx": (folder / "a.docx").read_bytes(), "xlsx": (folder / "a.xlsx").read_bytes()}


@pytest.mark.parametrize("name, file_type, expected", [
    ("nanchang-customs_2023_gongshi.doc", "doc", "确定袁敏等15人为南昌海关拟录用公务员"),
    ("chinatax_2023_nilu_mingdan.xls", "xls", "陈懿清\t女\t130135080400421"),  # integer cells stay integers
    ("shenzhen_stats_2021_xingbie.pdf", "pdf", "占全市人口的 45.0%"),  # a line wrapped by the layout, joined
])
def test_real_government_attachments_are_read(name, file_type, expected):
    body = (ATTACHMENTS / name).read_bytes()
    assert sniff_file_type(body) == file_type
    assert expected in extract_document_text(body, file_type).text


def test_office_open_xml_files_are_read_with_tables_as_rows(office_files):
    assert sniff_file_type(office_files["docx"]) == "docx"
    assert DOCX_TEXT in extract_document_text(office_files["docx"], "docx").text
    assert sniff_file_type(office_files["xlsx"]) == "xlsx"
    assert "\t".join(XLSX_ROW) in extract_document_text(office_files["xlsx"], "xlsx").text


def test_what_is_not_a_document_is_not_sniffed_as_one():
    assert sniff_file_type(b"<html><body>\xe9\xa1\xb5\xe9\x9d\xa2\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8</body></html>") is None
    assert sniff_file_type(b"PK\x03\x04" + b"\0" * 100 + b"photos/1.jpg") is None  # a zip of other things


def test_a_blank_scan_is_read_by_ocr_and_gives_empty_text():
    reading = extract_document_text(blank_pdf(), "pdf")
    assert (reading.text, reading.text_origin, reading.ocr_confidence) == ("", "ocr", None)


def test_a_truncated_pdf_is_an_error_with_the_reason():
    pdf = (ATTACHMENTS / "shenzhen_stats_2021_xingbie.pdf").read_bytes()
    with pytest.raises(DocumentError, match=r"pdf text extraction failed: .*EOF"):
        extract_document_text(pdf[: len(pdf) // 2], "pdf")


def test_a_corrupt_word_file_is_an_error():
    with pytest.raises(DocumentError, match="doc text extraction failed"):
        extract_document_text(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 4000, "doc")


def test_a_file_that_takes_too_long_is_stopped():
    pdf = (ATTACHMENTS / "shenzhen_stats_2021_xingbie.pdf").read_bytes()
    with pytest.raises(DocumentError, match=r"took longer than 0.05 s"):
        extract_document_text(pdf, "pdf", time_limit=0.05)


def docx_bomb(path, template: bytes, expanded_mib: int) -> bytes:
    """A small DOCX whose document.xml inflates to `expanded_mib` MiB: a reader holding it all
    needs that much memory."""
    with zipfile.ZipFile(io.BytesIO(template)) as parts, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in parts.infolist():
            if item.filename != "word/document.xml":
                bomb.writestr(item, parts.read(item))
        with bomb.open("word/document.xml", "w", force_zip64=True) as xml:
            xml.write(b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
            paragraph = "<w:p><w:r><w:t>转移就业</w:t></w:r></w:p>".encode() * 1000
            for _ in range(expanded_mib * (1 << 20) // len(paragraph)):
                xml.write(paragraph)
            xml.write(b"</w:body></w:document>")
    return path.read_bytes()


@pytest.mark.e2e  # a reader child filling 256 MiB
def test_a_file_that_needs_too_much_memory_is_stopped(tmp_path, office_files):
    bomb = docx_bomb(tmp_path / "bomb.docx", office_files["docx"], expanded_mib=400)
    assert len(bomb) < 2 << 20  # well under any download cap
    with pytest.raises(DocumentError, match=r"docx text extraction failed: ran out of memory \(limit 256 MiB\)"):
        extract_document_text(bomb, "docx", memory_limit=256 << 20)


def test_an_unknown_type_is_refused_clearly():
    with pytest.raises(ValueError, match="unknown document type 'zip'"):
        extract_document_text(b"PK", "zip")
