"""The candidate page's assets (ingest_server/httpd.py): compressed once and
served by content coding, versioned URLs served immutable, the page's static
module graph preloaded and what it imports with import() listed for later,
the page itself compressed but never stored. Over real HTTP against a real
server, on a static folder of each test's own."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import brotli
import pytest

from ingest_server import httpd
from tests.support.ingest_helpers import http_get, ingest_settings, issue, page_state, running_server

BROWSER = "gzip, deflate, br, zstd"  # what Chromium 156 sends, on loopback too
IMMUTABLE = "public, max-age=31536000, immutable"
INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>t</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/style.css">
<!--HIREMATE_STATE-->
<script type="module" src="/static/app.js"></script></head>
<body><main id="main"><a href="/static/missing.css">x</a></main></body></html>
"""
FILLER = "// " + "a comment long enough to be worth compressing. " * 40 + "\n"


def make_static(root: Path) -> Path:
    """A page whose entry module imports two others, one of them importing a third in a subfolder."""
    files = {
        "index.html": INDEX,
        "app.js": "import { a } from './a.js';\nimport \"./sub/b.js\";\n"
        "/** @param {import('./lazy.js').Lazy} x */\nexport const app = a;\n" + FILLER,
        "a.js": "export { c as a } from './sub/c.js';\n" + FILLER,
        "sub/b.js": "import '../a.js';\n" + FILLER,
        "sub/c.js": "export const c = 1;\n" + FILLER,
        "lazy.js": "export class Lazy {}\n" + FILLER,
        "style.css": "body { margin: 0 }\n" * 200,
        "icon.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
        "blob.bin": "binary " * 200,
        ".secret": "no",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def static(tmp_path: Path) -> Path:
    return make_static(tmp_path / "static")


def decode(body: bytes, coding: str | None) -> bytes:
    return {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda b: b}[coding](body)


# ---------------------------------------------------------------- negotiation


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, None),
        ("", None),
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate", None),
        ("identity", None),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0", None),
        ("gzip;q=0.5, br;q=0.4", "gzip"),
        ("gzip ; q=1.0 , br ; q=0.9", "gzip"),
        ("br;q=nonsense, gzip", "gzip"),
        ("*", "br"),
        ("*;q=0", None),
        ("*, br;q=0", "gzip"),
        ("identity;q=0", None),  # nothing else offered that it allows: identity anyway, never 406
    ],
)
def test_negotiate(header, chosen):
    assert httpd.negotiate(header, ("br", "gzip")) == chosen


# ---------------------------------------------------------------- the bundle


def test_the_page_refers_to_versioned_urls_and_preloads_its_module_graph(static):
    bundle = httpd.StaticFiles(static).bundle
    html = bundle.template
    prefix = f"/static/v/{bundle.version}/"
    assert f'<script type="module" src="{prefix}app.js">' in html
    assert f'href="{prefix}style.css"' in html and f'href="{prefix}icon.svg"' in html
    assert 'href="/static/missing.css"' in html  # not a file: left alone
    preloads = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    # Breadth first from the entry; the entry itself comes with its script tag; import() is not preloaded.
    assert preloads == [f"{prefix}a.js", f"{prefix}sub/b.js", f"{prefix}sub/c.js"]
    assert html.index("modulepreload") < html.index(httpd.STATE_PLACEHOLDER) < html.index("<script")
    assert html.count(httpd.STATE_PLACEHOLDER) == 1


def test_preloads_whatever_the_order_of_the_script_tags_attributes(static):
    (static / "index.html").write_text(
        INDEX.replace('type="module" src="/static/app.js"', 'src="/static/app.js" type="module"')
    )
    html = httpd.StaticFiles(static).bundle.template
    assert len(re.findall(r'<link rel="modulepreload"', html)) == 3


def test_what_import_asks_for_is_listed_for_later_not_preloaded(static):
    """A module imported with import() (and what it imports) is left out of the head's preloads, which the
    first screen waits for, and listed, versioned, for the page to preload once that screen is drawn."""
    (static / "a.js").write_text(
        "export { c as a } from './sub/c.js';\n"
        "export const later = () => import('./lazy.js');\n"
        "// import('./commented.js') is not code\n" + FILLER
    )
    (static / "lazy.js").write_text("import { c } from './sub/c.js';\nimport './sub/d.js';\n" + FILLER)
    (static / "sub" / "d.js").write_text("export const d = 1;\n" + FILLER)
    (static / "commented.js").write_text("export const never = 1;\n")
    bundle = httpd.StaticFiles(static).bundle
    prefix = f"/static/v/{bundle.version}/"
    html = bundle.template
    preloads = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    assert preloads == [f"{prefix}a.js", f"{prefix}sub/b.js", f"{prefix}sub/c.js"]
    assert bundle.later_graph("app.js") == ["lazy.js", "sub/d.js"]  # sub/c.js is loaded already
    block = re.search(r'<script id="hm-later" type="application/json">([^<]*)</script>', html)
    assert block is not None and json.loads(block.group(1)) == [f"{prefix}lazy.js", f"{prefix}sub/d.js"]
    assert html.index("modulepreload") < block.start() < html.index(httpd.STATE_PLACEHOLDER)
    assert html.index(httpd.STATE_PLACEHOLDER) < html.index('<script type="module"')


def test_the_bundled_page_preloads_the_welcome_chain_and_lists_the_rest_for_later():
    """The real page: the head preloads only what the welcome screen needs (app.js's static imports); every
    other module (session.js and what it imports) is listed for later, so the page asks for each once."""
    bundle = httpd.StaticFiles(httpd.STATIC_DIR).bundle
    version = re.escape(f"/static/v/{bundle.version}/")
    preloaded = re.findall(rf'rel="modulepreload" href="{version}([^"]+)"', bundle.template)
    later = re.search(r'<script id="hm-later" type="application/json">([^<]*)</script>', bundle.template)
    assert later is not None
    listed = [url.removeprefix(f"/static/v/{bundle.version}/") for url in json.loads(later.group(1))]
    modules = {p.name for p in httpd.STATIC_DIR.glob("*.js")}
    assert preloaded == ["ui.js"] == bundle.module_graph("app.js")[1:]
    assert listed[0] == "session.js" and set(listed) == modules - {"app.js", "ui.js"}
    assert len(listed) == len(set(listed))


def test_text_is_compressed_once_and_decompresses_to_the_exact_file(static):
    bundle = httpd.StaticFiles(static).bundle
    app = bundle.assets["app.js"]
    assert set(app.encoded) == {"br", "gzip"}
    assert (
        brotli.decompress(app.encoded["br"]) == gzip.decompress(app.encoded["gzip"]) == (static / "app.js").read_bytes()
    )
    assert bundle.assets["blob.bin"].encoded == {}  # not text: never compressed
    assert bundle.assets["icon.svg"].encoded == {}  # text, but compressing it would not make it smaller
    assert ".secret" not in bundle.assets


def test_a_change_on_disk_makes_a_new_version(static):
    files = httpd.StaticFiles(static)
    before = files.bundle
    assert files.refresh() is before  # nothing changed: nothing rebuilt
    (static / "sub" / "c.js").write_text("export const c = 2;\n")
    os.utime(static / "sub" / "c.js", ns=(1, 1))  # a different mtime whatever the clock's resolution
    after = files.refresh()
    assert after.version != before.version
    assert f"/static/v/{after.version}/app.js" in after.template
    assert after.assets["app.js"].digest == before.assets["app.js"].digest  # the version is the whole tree's


def test_links_and_hidden_files_never_leave_the_folder(static, tmp_path):
    (tmp_path / "outside.txt").write_text("private")
    (static / "link.txt").symlink_to(tmp_path / "outside.txt")
    (static / "inside.txt").write_text("public")
    (static / "alias.txt").symlink_to(static / "inside.txt")
    (static / "loop").symlink_to(static, target_is_directory=True)
    (static / ".git").mkdir()
    (static / ".git" / "config").write_text("secret")
    assets = httpd.StaticFiles(static).bundle.assets
    assert "link.txt" not in assets and "loop/app.js" not in assets and ".git/config" not in assets
    assert assets["alias.txt"].body == b"public"


# ---------------------------------------------------------------- over HTTP


async def test_versioned_assets_are_compressed_and_immutable(ingest_settings, db, static):
    async with running_server(ingest_settings, db, static_dir=static) as running:
        version = running.static.bundle.version
        for accept, coding in ((BROWSER, "br"), ("gzip", "gzip"), (None, None), ("br;q=0, gzip;q=0", None)):
            answer = await http_get(
                running.port, f"/static/v/{version}/app.js", {"Accept-Encoding": accept} if accept else None
            )
            assert answer.status == 200
            assert answer.headers.get("content-encoding") == coding
            assert decode(answer.body, coding) == (static / "app.js").read_bytes()
            assert int(answer.headers["content-length"]) == len(answer.body)
            assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
            assert answer.headers["cache-control"] == IMMUTABLE
            assert answer.headers["vary"] == "Accept-Encoding"
            assert answer.headers["x-content-type-options"] == "nosniff"
        binary = await http_get(running.port, f"/static/v/{version}/blob.bin", {"Accept-Encoding": BROWSER})
        assert "content-encoding" not in binary.headers and "vary" not in binary.headers
        assert binary.body == (static / "blob.bin").read_bytes()


async def test_plain_urls_are_revalidated_with_an_etag_per_representation(ingest_settings, db, static):
    async with running_server(ingest_settings, db, static_dir=static) as running:
        plain = await http_get(running.port, "/static/style.css")
        packed = await http_get(running.port, "/static/style.css", {"Accept-Encoding": "gzip"})
        assert plain.headers["cache-control"] == packed.headers["cache-control"] == "no-cache"
        assert plain.body == (static / "style.css").read_bytes() == gzip.decompress(packed.body)
        assert plain.headers["etag"] != packed.headers["etag"]  # strong ETags: one per content coding
        again = await http_get(
            running.port, "/static/style.css", {"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]}
        )
        assert again.status == 304 and again.body == b""
        assert again.headers["etag"] == packed.headers["etag"] and "content-length" not in again.headers
        stale = await http_get(running.port, "/static/style.css", {"If-None-Match": '"0000", "1111"'})
        assert stale.status == 200 and stale.body == plain.body


async def test_an_unknown_version_redirects_to_the_current_one(ingest_settings, db, static):
    async with running_server(ingest_settings, db, static_dir=static) as running:
        version = running.static.bundle.version
        for old in ("0123456789abcdef", "not-a-version"):
            answer = await http_get(running.port, f"/static/v/{old}/sub/c.js")
            assert answer.status == 307
            assert answer.headers["location"] == f"/static/v/{version}/sub/c.js"
            assert answer.headers["cache-control"] == "no-store"  # never cached under the old name
        for path in (f"/static/v/{version}/missing.js", "/static/v/0123456789abcdef/missing.js", "/static/v/x"):
            assert (await http_get(running.port, path)).status == 404
        assert (await http_get(running.port, f"/static/v/{version}/.secret")).status == 404
        assert (await http_get(running.port, f"/static/v/{version}/../httpd.py")).status == 404


async def test_an_old_version_after_a_change_on_disk_redirects(ingest_settings, db, static):
    async with running_server(ingest_settings, db, static_dir=static) as running:
        old = running.static.bundle.version
        (static / "app.js").write_text("export const app = 2;\n")
        os.utime(static / "app.js", ns=(1, 1))
        # Until something looks at the disk again, the old version still names what it named.
        kept = await http_get(running.port, f"/static/v/{old}/app.js")
        assert kept.status == 200 and kept.body.startswith(b"import { a }")
        page = await http_get(running.port, f"/a/{issue(db).token}")  # rendering the page looks
        new = running.static.bundle.version
        assert f"/static/v/{new}/app.js".encode() in page.body
        answer = await http_get(running.port, f"/static/v/{old}/app.js")
        assert new != old and answer.status == 307 and answer.headers["location"] == f"/static/v/{new}/app.js"
        fresh = await http_get(running.port, f"/static/v/{new}/app.js")
        assert fresh.body == b"export const app = 2;\n"


async def test_the_page_is_compressed_never_stored_and_keeps_its_policy(ingest_settings, db, static):
    issued = issue(db, name="Zoë </script>")
    async with running_server(ingest_settings, db, static_dir=static) as running:
        plain = await http_get(running.port, f"/a/{issued.token}")
        assert "content-encoding" not in plain.headers
        for accept, coding in ((BROWSER, "br"), ("gzip", "gzip")):
            answer = await http_get(running.port, f"/a/{issued.token}", {"Accept-Encoding": accept})
            assert answer.status == 200 and answer.headers["content-encoding"] == coding
            assert int(answer.headers["content-length"]) == len(answer.body)
            html = decode(answer.body, coding)
            assert page_state(html) == page_state(plain.body) and page_state(html)["candidate_name"] == "Zoë </script>"
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["vary"] == "Accept-Encoding"
            assert (
                answer.headers["content-security-policy"] == httpd.PAGE_CSP == plain.headers["content-security-policy"]
            )
            assert answer.headers["referrer-policy"] == "no-referrer" and answer.headers["x-frame-options"] == "DENY"
        # Everything the page asks for is there, under the version it names.
        version = running.static.bundle.version
        for url in re.findall(rb'(?:src|href)="(/static/v/[^"]+)"', plain.body):
            assert url.decode().startswith(f"/static/v/{version}/")
            assert (await http_get(running.port, url.decode())).status == 200


def test_the_policy_is_unchanged():
    """Preloads are same-origin module fetches: script-src 'self' covers them, nothing inline was added."""
    assert httpd.PAGE_CSP == (
        "default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


async def test_head_answers_headers_without_a_body(ingest_settings, db, static):
    issued = issue(db)
    async with running_server(ingest_settings, db, static_dir=static) as running:
        version = running.static.bundle.version
        for path in (f"/static/v/{version}/app.js", "/static/app.js", f"/a/{issued.token}", "/healthz"):
            get = await http_get(running.port, path, {"Accept-Encoding": "gzip"})
            head = await http_get(running.port, path, {"Accept-Encoding": "gzip"}, method="HEAD")
            assert head.status == get.status == 200 and head.body == b""
            assert head.headers["content-length"] == get.headers["content-length"]
            assert head.headers.get("content-encoding") == get.headers.get("content-encoding")
        assert (await http_get(running.port, "/static/missing.js", method="HEAD")).status == 404
