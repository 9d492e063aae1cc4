"""OCR bench: seconds per page and character accuracy, per language and engine, on scans made
from real documents (tests/scans.py). Run from the repository root:

    .venv/bin/python bench/ocr_bench.py            # Tesseract (what docwatch uses)
    PYTHONPATH=. /path/to/venv-with-rapidocr/bin/python bench/ocr_bench.py   # and RapidOCR, if importable

Prints a Markdown table (the README's "OCR" section has this machine's figures)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.extract.ocr import missing_languages, ocr_image  # noqa: E402
from tests.scans import character_accuracy, font_for, image_bytes, pdf_page_image, render_text, scanned, wrap  # noqa: E402

FILES = ROOT / "tests" / "files"
EXCERPTS = (FILES / "text" / "xinjiang_tibet_labor_transfer_excerpts.md").read_text("utf-8")
PDF = FILES / "attachments" / "shenzhen_stats_2021_xingbie.pdf"


def excerpt(number: int, skip: int) -> str:
    return "\n".join(EXCERPTS.split(f"## {number}.")[1].split("---")[0].splitlines()[skip:])


def samples() -> list[tuple[str, str, bytes, str]]:
    """(sample, language, image, known text)."""
    report = wrap(excerpt(2, 4), 40)[:12]
    traditional = wrap(excerpt(5, 4), 36)[:8]
    out = [
        ("天山网 report text, rendered + scanned", "chi_sim", image_bytes(scanned(render_text(report, "chi_sim"))), "\n".join(report)),
        ("人民网 report, traditional, rendered + scanned", "chi_tra", image_bytes(scanned(render_text(traditional, "chi_tra"))), "\n".join(traditional)),
    ]
    for page in (2, 3):
        known = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(PDF), "-"], capture_output=True, text=True).stdout
        out.append((f"Shenzhen statistics PDF p.{page}, 150 dpi scan", "chi_sim", image_bytes(scanned(pdf_page_image(PDF.read_bytes(), page))), known))
    uyghur = ["شىنجاڭ ئۇيغۇر ئاپتونوم رايونى", "ئۈرۈمچى شەھىرى"]
    tibetan = ["བོད་རང་སྐྱོང་ལྗོངས།", "ལྷ་ས་གྲོང་ཁྱེར།"]
    for language, lines in (("uig", uyghur), ("bod", tibetan)):
        if font_for(language):
            out.append((f"region names ({language}), rendered + scanned", language, image_bytes(scanned(render_text(lines, language, size=36))), "\n".join(lines)))
    return out


def tesseract(languages: tuple[str, ...]):
    return lambda image: ocr_image(image, languages).text


def rapidocr():
    try:
        from rapidocr import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR()
    return lambda image: "\n".join(engine(image).txts or ())


def main() -> None:
    rapid = rapidocr()
    print("| sample | language | engine | s/page | character accuracy |")
    print("|---|---|---|---|---|")
    for sample, language, image, known in samples():
        engines = [(f"tesseract {language}", tesseract((language,)))]
        if language == "chi_sim":
            engines.append(("tesseract chi_sim+eng", tesseract(("chi_sim", "eng"))))
        if rapid is not None and language in ("chi_sim", "chi_tra"):
            engines.append(("rapidocr (PP-OCR in the wheel)", rapid))
        for name, read in engines:
            if name.startswith("tesseract") and missing_languages(tuple(name.split()[1].split("+"))):
                continue
            started = time.perf_counter()
            text = read(image)
            print(f"| {sample} | {language} | {name} | {time.perf_counter() - started:.1f} | {character_accuracy(known, text):.1%} |")


if __name__ == "__main__":
    main()
