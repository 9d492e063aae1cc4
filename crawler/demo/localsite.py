"""A real HTTP server on 127.0.0.1 that serves a folder as a website, for the demo and the tests.

Files are served byte for byte. An optional `_site.json` in the folder (re-read on every
request, so a test or a user can edit the site between crawls) overrides what a path answers:

    {"/a/page.shtml": {"status": 503},
     "/gbk.shtml": {"content_type": "text/html"},              # no charset in the header
     "/old.shtml": {"redirect": "/"},                           # 302 to the home page
     "/guarded.shtml": {"status": 521, "file": "challenge.html"},
     "/moved.shtml": {"status": 301, "redirect": "/new.shtml"},   # a redirect with its own status
     "/zipped.shtml": {"gzip": true, "chunked": true},          # Content-Encoding: gzip, sent in chunks
     "/squeezed.shtml": {"brotli": true}}                       # br, when the request accepts it

Without an override, `.html`/`.shtml` files are sent as `text/html; charset=utf-8`. A `gzip`
answer is the file gzip-compressed without a timestamp: the same bytes on every request.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import brotli

MANIFEST = "_site.json"
CHUNK_BYTES = 4096


class _Handler(BaseHTTPRequestHandler):
    server: "_SiteServer"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        root = self.server.root
        path = unquote(urlsplit(self.path).path)
        if path.endswith("/"):
            path += "index.shtml" if (root / path.lstrip("/") / "index.shtml").exists() else "index.html"
        rule = _manifest(root).get(path, {})
        if "redirect" in rule:
            self._send(rule.get("status", 302), b"", "text/html", {"Location": rule["redirect"]}, send_body)
            return
        file = (root / rule.get("file", path.lstrip("/"))).resolve()
        if root not in file.parents or not file.is_file() or file.name == MANIFEST:
            self._send(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html", {}, send_body)
            return
        body = file.read_bytes()
        if file.suffix in (".html", ".shtml", ".htm"):
            default_type = "text/html; charset=utf-8"
        else:
            default_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        headers = {}
        if rule.get("gzip"):
            body, headers["Content-Encoding"] = gzip.compress(body, mtime=0), "gzip"
        elif rule.get("brotli") and "br" in self.headers.get("Accept-Encoding", ""):
            body, headers["Content-Encoding"] = brotli.compress(body), "br"
        self._send(rule.get("status", 200), body, rule.get("content_type", default_type), headers, send_body,
                   chunked=rule.get("chunked", False))

    def _send(self, status: int, body: bytes, content_type: str, headers: dict, send_body: bool,
              chunked: bool = False) -> None:
        if chunked:  # chunks need HTTP/1.1; the connection is closed after the answer all the same
            self.protocol_version = "HTTP/1.1"
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body and chunked:
            for start in range(0, len(body), CHUNK_BYTES):
                chunk = body[start:start + CHUNK_BYTES]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        self.server.requests.append(self.path)


def _manifest(root: Path) -> dict:
    file = root / MANIFEST
    return json.loads(file.read_text("utf-8")) if file.exists() else {}


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, port: int):
        super().__init__(("127.0.0.1", port), _Handler)
        self.root = root.resolve()
        self.requests: list[str] = []


class LocalSite:
    """Serve `root` on 127.0.0.1 (a free port unless one is given) in a background thread."""

    def __init__(self, root: str | Path, port: int = 0):
        self._server = _SiteServer(Path(root), port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        """Paths requested so far, in order (lets tests check what the crawler asked for)."""
        return self._server.requests

    def start(self) -> "LocalSite":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "LocalSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
