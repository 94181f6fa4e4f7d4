"""Plain HTTP on the ingest port: the candidate page, its assets, health.

Answers are websockets ``Response`` objects returned from
``process_request`` (the upgrade is then not performed). websockets closes
the connection after every such answer (``ServerProtocol.send_response``
sends EOF for any status but 101), so a page costs one connection per
request: the page is built to need few rounds instead.

The assets (``static/``) are read once into a ``Bundle``: every file, its
content hash, and text files compressed once (brotli and gzip, kept only
when smaller). The bundle's version (a hash over every file) names them
under ``/static/v/<version>/<path>``, served immutable; the candidate page's
HTML refers to those URLs and preloads the module graph its entry imports
statically (``<link rel="modulepreload">``), so those modules arrive in one
round. The modules the page imports with ``import()`` (the running
assessment, which the welcome screen does not wait for) are not preloaded
with them: the page lists their whole graph in a JSON block (``hm-later``)
for the page's code to preload once the welcome screen is drawn, again in
one round and without taking the link's bandwidth from the first screen.
The plain ``/static/<path>`` stays, revalidated (``no-cache`` and an ETag).
A file that changes on disk makes a new bundle (and version) the next time
the page is rendered, or an unversioned or unknown URL is asked for (those
look at most once a second).
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http
import json
import mimetypes
import os
import posixpath
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli
from websockets.datastructures import Headers
from websockets.http11 import Response

from hiremate.models import TaskAttempt
from hiremate.timeutil import iso

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATE_PLACEHOLDER = "<!--HIREMATE_STATE-->"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")
VERSIONED = "v/"  # /static/v/<version>/<path>: a top-level folder named v/ is never served unversioned
IMMUTABLE = "public, max-age=31536000, immutable"
# Codings offered, best first. The page is compressed per request (it carries
# its state), faster settings than the assets, which are compressed once.
ASSET_CODINGS = ("br", "gzip")
PAGE_BROTLI_QUALITY = 5
PAGE_GZIP_LEVEL = 6

PAGE_CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}

FALLBACK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HireMate assessment</title></head>
<body><!--HIREMATE_STATE--><p>The assessment page is not installed on this server.</p></body></html>
"""


def response(status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | tuple[()] = ()) -> Response:
    status_code = http.HTTPStatus(status)
    all_headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            ("X-Content-Type-Options", "nosniff"),
            *headers,
        ]
    )
    return Response(status_code.value, status_code.phrase, all_headers, body)


def json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return response(status, body, "application/json", [("Cache-Control", "no-store")])


def text_response(status: int, text: str) -> Response:
    return response(status, text.encode(), "text/plain; charset=utf-8", [("Cache-Control", "no-store")])


def not_found() -> Response:
    return text_response(404, "Not Found\n")


# ---------------------------------------------------------------- the candidate page


def page_state(token: str | None, attempt: TaskAttempt | None) -> dict[str, Any]:
    """What the page needs to know before opening a socket."""
    if attempt is None or token is None:
        return {"state": "not_found", "token": None, "ws_path": None}
    return {
        "state": str(attempt.status),
        "token": token,
        "candidate_name": attempt.candidate_info.name,
        "position": attempt.candidate_info.position,
        "total_tasks": len(attempt.task_ids),
        "expires_at": iso(attempt.expires_at),
        "ws_path": f"/ws/assessment/{token}",
    }


def state_script(state: dict[str, Any]) -> str:
    """The page state as a JSON data block."""
    return json_block("hm-state", state)


def json_block(element_id: str, value: Any) -> str:
    """A JSON data block (never run, so outside the CSP's script-src) that can never close its script tag or start markup."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return f'<script id="{element_id}" type="application/json">{text}</script>'


def page_response(template: str, state: dict[str, Any], accept_encoding: str | None = None) -> Response:
    """The candidate page with its state: never stored (it names the candidate), compressed when the client accepts it."""
    html = template.replace(STATE_PLACEHOLDER, state_script(state), 1).encode()
    coding = negotiate(accept_encoding, ASSET_CODINGS)
    headers = [
        ("Content-Security-Policy", PAGE_CSP),
        ("Referrer-Policy", "no-referrer"),  # the token is in the URL
        ("Cache-Control", "no-store"),
        ("X-Frame-Options", "DENY"),
        ("Vary", "Accept-Encoding"),
    ]
    if coding is not None:
        html = compress(html, coding, brotli_quality=PAGE_BROTLI_QUALITY, gzip_level=PAGE_GZIP_LEVEL)
        headers.append(("Content-Encoding", coding))
    return response(200, html, "text/html; charset=utf-8", headers)


def without_body(answer: Response) -> Response:
    """The answer to a HEAD request: the same status and headers (Content-Length included), no body."""
    return Response(answer.status_code, answer.reason_phrase, answer.headers, b"")


# ---------------------------------------------------------------- content codings


def negotiate(accept_encoding: str | None, offered: Iterable[str]) -> str | None:
    """The best of ``offered`` (in its order) that ``Accept-Encoding`` allows, or None for identity.

    No header means identity (what every client understands). A coding is
    allowed when it is listed, or covered by ``*``, with a q-value above 0;
    the highest q wins, ties go to the order of ``offered``."""
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        weights[name.lower()] = q
    if "x-gzip" in weights and "gzip" not in weights:
        weights["gzip"] = weights["x-gzip"]
    best: tuple[float, str] | None = None
    for coding in offered:
        q = weights.get(coding, weights.get("*", 0.0))
        if q > 0 and (best is None or q > best[0]):
            best = (q, coding)
    return None if best is None else best[1]


def compress(data: bytes, coding: str, *, brotli_quality: int = 11, gzip_level: int = 9) -> bytes:
    if coding == "br":
        return brotli.compress(data, quality=brotli_quality)
    if coding == "gzip":
        return gzip.compress(data, compresslevel=gzip_level, mtime=0)
    raise ValueError(f"unknown content coding {coding!r}")


def _compressible(content_type: str) -> bool:
    return content_type.startswith("text/") or content_type in {"application/json", "image/svg+xml"}


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


# ---------------------------------------------------------------- the assets


@dataclass(frozen=True)
class Asset:
    """One file of ``static/``: its bytes, and its compressed forms where they are smaller."""

    body: bytes
    content_type: str
    digest: str  # of the bytes: the ETag's core
    encoded: dict[str, bytes] = field(default_factory=dict)

    def answer(self, accept_encoding: str | None, if_none_match: str | None, cache_control: str) -> Response:
        coding = negotiate(accept_encoding, [c for c in ASSET_CODINGS if c in self.encoded])
        etag = f'"{self.digest}-{coding}"' if coding else f'"{self.digest}"'  # strong: one per representation
        headers = [("Cache-Control", cache_control), ("ETag", etag)]
        if self.encoded:  # a cache must key on what the client accepts
            headers.append(("Vary", "Accept-Encoding"))
        if _etag_matches(if_none_match, etag):
            return not_modified(headers)
        if coding is not None:
            headers.append(("Content-Encoding", coding))
        return response(200, self.encoded[coding] if coding else self.body, self.content_type, headers)


def not_modified(headers: list[tuple[str, str]]) -> Response:
    """304: no body and no Content-Length (RFC 9110 15.4.5)."""
    status = http.HTTPStatus.NOT_MODIFIED
    all_headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("X-Content-Type-Options", "nosniff"),
            *headers,
        ]
    )
    return Response(status.value, status.phrase, all_headers, b"")


def redirect(location: str) -> Response:
    return response(
        307,
        b"",
        "text/plain; charset=utf-8",
        [("Location", location), ("Cache-Control", "no-store")],
    )


def content_type_of(name: str) -> str:
    suffix = posixpath.splitext(name)[1].lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


# `import x from './a.js'`, `import './a.js'`, `export { y } from './a.js'`: static imports of a
# relative module.
_IMPORT = re.compile(r"""(?:\bfrom|^\s*import)\s*(['"])(\.{1,2}/[^'"\n]+)\1""", re.M)
# `import('./a.js')`: a relative module imported when the code asks for it (not on a comment's line:
# `@param {import('./a.js').A}` in JSDoc names a type).
_DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*(['"])(\.{1,2}/[^'"\n]+)\1\s*\)""")
LATER_ID = "hm-later"  # the JSON block listing the modules the page preloads after its first screen
_ASSET_REF = re.compile(r'\b(src|href)="/static/([^"?#]+)"')
_SCRIPT_TAG = re.compile(r"<script\b[^>]*>")
_MODULE_TYPE = re.compile(r'\btype="module"')
_STATIC_SRC = re.compile(r'\bsrc="/static/([^"?#]+)"')


Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Bundle:
    """What ``static/`` held at one moment, ready to serve."""

    version: str
    assets: dict[str, Asset]
    template: str  # index.html with versioned URLs and module preloads, or FALLBACK_PAGE
    signature: Signature

    def url(self, relative: str) -> str:
        return f"/static/{VERSIONED}{self.version}/{relative}"

    def imports(self, module: str, pattern: re.Pattern[str] = _IMPORT) -> list[str]:
        """The modules of this bundle that ``module`` names with ``pattern`` (static imports by default), in order."""
        asset = self.assets.get(module)
        if asset is None:
            return []
        text = asset.body.decode("utf-8", "replace")
        found: list[str] = []
        for match in pattern.finditer(text):
            line = text[text.rfind("\n", 0, match.start()) + 1 : match.start()].lstrip()
            if line.startswith(("//", "/*", "*")):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(module), match.group(2)))
            if target in self.assets and target not in found:
                found.append(target)
        return found

    def module_graph(self, entry: str) -> list[str]:
        """``entry`` and every module it imports statically, in breadth-first order."""
        order, queue = [entry], [entry]
        while queue:
            for target in self.imports(queue.pop(0)):
                if target not in order:
                    order.append(target)
                    queue.append(target)
        return order

    def later_graph(self, entry: str) -> list[str]:
        """What ``entry``'s static graph imports with ``import()``, and their static graphs, breadth first:
        the modules ``entry`` does not wait for (none of its static graph)."""
        now = self.module_graph(entry)
        later: list[str] = []
        for module in now:
            for target in self.imports(module, _DYNAMIC_IMPORT):
                for found in self.module_graph(target):
                    if found not in now and found not in later:
                        later.append(found)
        return later


def scan(root: Path) -> tuple[Signature, dict[str, Path]]:
    """Every servable file below ``root`` (a resolved path) and its (path, mtime, size): no hidden names,
    nothing outside ``root`` (a symbolic link is followed only when it stays inside)."""
    files: dict[str, Path] = {}
    rows: list[tuple[str, int, int]] = []

    def walk(folder: str, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                # A linked file only if it stays inside; never a linked folder (no loops).
                if entry.is_symlink() and (entry.is_dir() or not Path(entry.path).resolve().is_relative_to(root)):
                    continue
                if entry.is_dir():
                    walk(entry.path, f"{prefix}{entry.name}/")
                elif entry.is_file():
                    stat = entry.stat()
                    files[prefix + entry.name] = Path(entry.path)
                    rows.append((prefix + entry.name, stat.st_mtime_ns, stat.st_size))
            except OSError:
                continue

    walk(str(root), "")
    return tuple(rows), files


def build(root: Path) -> Bundle:
    """Read, hash and compress every file once; render the page template's asset URLs."""
    signature, files = scan(root)
    assets: dict[str, Asset] = {}
    whole = hashlib.sha256()
    for relative, path in files.items():
        try:
            body = path.read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(body).hexdigest()[:20]
        content_type = content_type_of(relative)
        encoded: dict[str, bytes] = {}
        if _compressible(content_type):
            for coding in ASSET_CODINGS:
                packed = compress(body, coding)
                if len(packed) < len(body):
                    encoded[coding] = packed
        assets[relative] = Asset(body, content_type, digest, encoded)
        whole.update(f"{relative}\0{digest}\0".encode())
    bundle = Bundle(whole.hexdigest()[:16], assets, "", signature)
    index = assets.get("index.html")
    template = FALLBACK_PAGE if index is None else render_template(bundle, index.body.decode("utf-8"))
    return Bundle(bundle.version, assets, template, signature)


def render_template(bundle: Bundle, html: str) -> str:
    """Asset references to versioned URLs, one modulepreload per module the page's module scripts import
    statically, and the list of what they import with ``import()`` (``LATER_ID``), for the page to preload."""
    preloads: list[str] = []
    later: list[str] = []
    module_tags = [
        (tag.group(0), src.group(1))
        for tag in _SCRIPT_TAG.finditer(html)
        if _MODULE_TYPE.search(tag.group(0)) and (src := _STATIC_SRC.search(tag.group(0)))
    ]
    for _tag, entry in module_tags:
        for module in bundle.module_graph(entry)[1:]:  # the entry comes with its script tag
            link = f'<link rel="modulepreload" href="/static/{module}">'
            if link not in preloads:
                preloads.append(link)
        later.extend(bundle.url(module) for module in bundle.later_graph(entry) if bundle.url(module) not in later)
    blocks = preloads + ([json_block(LATER_ID, later)] if later else [])
    if blocks:
        anchor = STATE_PLACEHOLDER if STATE_PLACEHOLDER in html else module_tags[0][0]
        html = html.replace(anchor, "\n".join(blocks) + "\n" + anchor, 1)

    def versioned(match: re.Match[str]) -> str:
        relative = match.group(2)
        if relative not in bundle.assets or relative.startswith(VERSIONED):
            return match.group(0)
        return f'{match.group(1)}="{bundle.url(relative)}"'

    return _ASSET_REF.sub(versioned, html)


_BUNDLES: dict[Path, Bundle] = {}  # one per folder and process: servers in one process (tests) share it
_BUILD_LOCK = threading.Lock()


class StaticFiles:
    """The files under one folder as a ``Bundle``, built once and again when they change."""

    # Asset requests for anything but the current version look at the disk at most this often
    # (a flood of unknown paths costs no disk reads); rendering the page always looks.
    LOOK_INTERVAL = 1.0

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._looked = 0.0
        self.bundle = self.refresh()

    def refresh(self, max_age: float = 0.0) -> Bundle:
        """The bundle for what is on disk now (a stat of each file; a rebuild only when one changed),
        or the one of the last look if that was less than ``max_age`` seconds ago."""
        now = time.monotonic()
        if max_age and now - self._looked < max_age:
            return self.bundle
        self._looked = now
        signature, _files = scan(self.root)
        current = _BUNDLES.get(self.root)
        if current is None or current.signature != signature:
            with _BUILD_LOCK:
                current = _BUNDLES.get(self.root)
                if current is None or current.signature != signature:
                    current = build(self.root)
                    _BUNDLES[self.root] = current
        self.bundle = current
        return current

    def template(self) -> str:
        """The page template (reads the disk: call it off the event loop)."""
        return self.refresh().template

    def get(self, relative: str, accept_encoding: str | None = None, if_none_match: str | None = None) -> Response:
        """``/static/<relative>``: a versioned URL of the current bundle is served immutable from memory;
        a plain path revalidated; a path under another version redirected (307) to the current one."""
        bundle = self.bundle
        if relative.startswith(VERSIONED):
            version, _, rest = relative[len(VERSIONED) :].partition("/")
            if version == bundle.version and rest in bundle.assets:
                return bundle.assets[rest].answer(accept_encoding, if_none_match, IMMUTABLE)
            bundle = self.refresh(self.LOOK_INTERVAL)  # a version from before a change on disk, or another server's
            if version == bundle.version and rest in bundle.assets:
                return bundle.assets[rest].answer(accept_encoding, if_none_match, IMMUTABLE)
            return redirect(bundle.url(rest)) if rest in bundle.assets else not_found()
        bundle = self.refresh(self.LOOK_INTERVAL)
        asset = bundle.assets.get(relative)
        if asset is None:
            return not_found()
        return asset.answer(accept_encoding, if_none_match, "no-cache")
