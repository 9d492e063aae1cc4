"""The Tesseract languages a source may name (its `ocr_languages:`), apart from the OCR code:
reading the watchlist needs these, not subprocess, tempfile and shutil (≈ 10 ms of every
command's start-up)."""

OCR_LANGUAGES = ("chi_sim", "chi_tra", "uig", "bod", "eng")  # what a source's `ocr_languages` may name
DEFAULT_OCR_LANGUAGES = ("chi_sim",)  # measured: adding eng costs time and Chinese accuracy (bench/)
