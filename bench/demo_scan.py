"""Make the demo site's scanned 附件: real report text (新华网 2008-04-17, via news.sohu.com;
/work/shared/corpus/text/, excerpt 7) printed in Noto Sans CJK and "scanned" (rotated 0.8°,
speckled), saved as a JPEG. Run from the repository root:

    .venv/bin/python bench/demo_scan.py /work/shared/corpus/text/xinjiang_tibet_labor_transfer_excerpts.md
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scans import image_bytes, render_text, scanned, wrap  # noqa: E402

TARGET = Path(__file__).resolve().parent.parent / "crawler/demo/site/xjrst/c112676/201801/W020180109553142613775.jpg"
TITLE = "新疆三年转移300多万农业富余劳动力"


def main(excerpts: Path) -> None:
    excerpt = excerpts.read_text("utf-8").split("## 7.")[1]
    body = "\n".join(line for line in excerpt.splitlines()[3:] if line.strip())
    page = scanned(render_text([TITLE, *wrap(body, 36)], "chi_sim"), angle=-0.8)
    TARGET.write_bytes(image_bytes(page, "JPEG"))
    print(f"{TARGET}: {TARGET.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
