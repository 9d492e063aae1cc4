"""ReplayWeb.page's own files (the npm package `replaywebpage`, which `setup.sh --test` unpacks
into .venv/replaywebpage/package) served on 127.0.0.1 with a WACZ package, opened in headless
Chromium: no network. A page of ours embeds `<replay-web-page>`; a script in it gathers the
text of every frame and shadow root until the wanted text appears, and posts it back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RWP_DIR = Path(__file__).resolve().parent.parent / ".venv" / "replaywebpage" / "package"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

EMBED = """<!doctype html><html><head><meta charset="utf-8"><script src="/replay/ui.js"></script></head><body>
<replay-web-page source="/package.wacz" url="{url}" ts="{ts}" replayBase="/replay/" embed="replayonly"></replay-web-page>
<script>
function texts(root, out) {{
  if (!root) return;
  if (root.body) out.push(root.body.innerText || "");
  for (const el of root.querySelectorAll("*")) {{
    if (el.shadowRoot) texts(el.shadowRoot, out);
    if (el.tagName === "IFRAME") {{ try {{ texts(el.contentDocument, out); }} catch (e) {{}} }}
  }}
}}
let tries = 0;
const timer = setInterval(() => {{
  const out = []; texts(document, out);
  const all = out.join("\\n");
  if (all.includes({want}) || ++tries > 300) {{
    clearInterval(timer);
    fetch("/result", {{method: "POST", body: all.slice(0, 50000)}});
  }}
}}, 500);
</script></body></html>"""


def replayed_text(package: Path, url: str, timestamp: str, want: str, profile: Path, timeout: float = 180) -> str:
    """The text ReplayWeb.page shows for `url` at `timestamp` (YYYYMMDDhhmmss) from `package`,
    once `want` is in it (or whatever it shows after 150 s: a loaded machine is slow to start a browser)."""
    results: list[str] = []
    page = EMBED.format(url=url, ts=timestamp, want=json.dumps(want)).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            results.append(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            self.send_response(204)
            self.end_headers()

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            if path == "/":
                self.answer(page, "text/html; charset=utf-8")
            elif path == "/package.wacz":
                self.answer(package.read_bytes(), "application/wacz")
            elif path.startswith("/replay/") and (RWP_DIR / path[len("/replay/"):]).is_file():
                served = RWP_DIR / path[len("/replay/"):]
                self.answer(served.read_bytes(), "text/javascript" if served.suffix == ".js" else "text/html")
            else:
                self.send_response(404)
                self.end_headers()

        def answer(self, data: bytes, content_type: str) -> None:
            """With byte ranges: ReplayWeb.page reads a WACZ in parts."""
            status, start, body = 200, 0, data
            asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if asked:
                start = int(asked[1])
                end = int(asked[2]) if asked[2] else len(data) - 1
                status, body = 206, data[start:end + 1]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
         f"http://127.0.0.1:{server.server_address[1]}/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while not results and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        browser.terminate()
        browser.wait(timeout=30)
        server.shutdown()
        server.server_close()
    assert results, f"ReplayWeb.page showed nothing within {timeout} s"
    return results[0]
