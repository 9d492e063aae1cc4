"""Scans made from real documents, as a county office makes them: text printed and photographed
(rendered in a font, a slight rotation, speckle noise), PDF pages printed and scanned
(pdftoppm at 150 dpi, the same treatment), and image-only PDFs rebuilt from those images.

Used by the OCR tests and by bench/ocr_bench.py; deterministic (a fixed random seed), so the
same call makes the same bytes."""

from __future__ import annotations

import io
import random
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONTS = {  # a font that has the script, as Debian installs it
    "chi_sim": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "chi_tra": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "eng": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "uig": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "bod": "/usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf",
}


def font_for(language: str) -> str | None:
    """The font file for a language's script, None when it is not installed."""
    path = FONTS[language]
    return path if Path(path).exists() else None


def render_text(lines: list[str], language: str, size: int = 28, width: int = 1240) -> Image.Image:
    """Lines of text printed on a white page (greyscale); right to left for Uyghur."""
    font = ImageFont.truetype(font_for(language), size)
    direction = "rtl" if language == "uig" else None
    height = 60 + int(size * 1.8) * len(lines)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(lines):
        y = 30 + int(size * 1.8) * number
        if direction:
            draw.text((width - 40, y), line, font=font, fill=0, direction=direction, anchor="ra")
        else:
            draw.text((40, y), line, font=font, fill=0)
    return page


def wrap(text: str, per_line: int) -> list[str]:
    """Paragraphs cut into lines of at most `per_line` characters, as printed."""
    lines = []
    for paragraph in filter(None, (line.strip() for line in text.splitlines())):
        lines += [paragraph[start:start + per_line] for start in range(0, len(paragraph), per_line)]
    return lines


def scanned(page: Image.Image, angle: float = 0.6, noise: float = 0.003, seed: int = 18) -> Image.Image:
    """The page as a scanner returns it: slightly rotated, with dark and light speckles."""
    randomness = random.Random(seed)
    page = page.convert("L").rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    pixels = page.load()
    for _ in range(int(page.width * page.height * noise)):
        x, y = randomness.randrange(page.width), randomness.randrange(page.height)
        pixels[x, y] = randomness.choice((0, 90, 200, 255))
    return page


def image_bytes(page: Image.Image, image_format: str = "PNG") -> bytes:
    out = io.BytesIO()
    page.save(out, format=image_format, **({"quality": 80} if image_format == "JPEG" else {}))
    return out.getvalue()


def image_pdf(pages: list[Image.Image], resolution: int = 150) -> bytes:
    """An image-only PDF (no text layer): what a scanner's "scan to PDF" makes."""
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=resolution)
    return out.getvalue()


def pdf_page_image(pdf: bytes, number: int, resolution: int = 150) -> Image.Image:
    """A real PDF's page printed and scanned: pdftoppm at `resolution` dpi, greyscale."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "in.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(resolution), "-gray", "-png", "-f", str(number), "-l", str(number),
                        "-singlefile", str(Path(folder, "in.pdf")), str(Path(folder, "page"))], check=True)
        return Image.open(Path(folder, "page.png")).copy()


def character_accuracy(expected: str, read: str) -> float:
    """1 - (edit distance / length) over the characters that are not spaces, NFKC-folded."""
    def squash(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).split())

    a, b = squash(expected), squash(read)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return max(0.0, 1 - previous[-1] / max(len(a), 1))
