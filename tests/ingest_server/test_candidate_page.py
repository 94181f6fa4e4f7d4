"""The candidate page (ingest_server/static): its node tests, the static
rules it must keep (strict CSP, no HTML from candidate text), and word and
character counts checked against Python itself."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "ingest_server" / "static"
JS_TESTS = ROOT / "tests" / "js"
PLACEHOLDER = "<!--HIREMATE_STATE-->"


def node() -> str:
    path = shutil.which("node")
    if not path:
        pytest.fail("node is required for the candidate page tests (node --test) and was not found on PATH")
    return path


def test_node_unit_tests_pass() -> None:
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, "no node tests found"
    result = subprocess.run(
        [node(), "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    summary = "\n".join(line for line in result.stdout.splitlines() if line.startswith(("# ", "not ok")))
    assert result.returncode == 0, f"node --test failed:\n{summary}\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert re.search(r"^# fail 0$", result.stdout, re.M), summary
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.M)
    assert passed and int(passed.group(1)) >= 40, summary


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if tag == "script":
            self.script_bodies.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies[-1] += data


def _html() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


def test_index_has_the_state_placeholder_inside_head() -> None:
    html = _html()
    assert html.count(PLACEHOLDER) == 1
    head = html[html.index("<head>") : html.index("</head>")]
    assert PLACEHOLDER in head
    # The state script must come before the module that reads it.
    assert head.index(PLACEHOLDER) < head.index('src="/static/app.js"')


def test_index_has_no_inline_script_or_handlers() -> None:
    parser = _Collector()
    parser.feed(_html())
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts, "the page needs its module script"
    for attrs in scripts:
        assert attrs.get("src"), f"inline script: {attrs}"
        assert attrs["src"].startswith("/static/")
    assert all(not body.strip() for body in parser.script_bodies)
    assert {"type": "module", "src": "/static/app.js"} in scripts
    for tag, attrs in parser.tags:
        for name, value in attrs.items():
            assert not name.lower().startswith("on"), f"inline handler {name} on <{tag}>"
            assert not (value or "").strip().lower().startswith("javascript:"), f"javascript: URL on <{tag}>"
        assert tag != "style", "inline <style> (keep CSS in style.css)"
        assert "style" not in attrs, f"inline style attribute on <{tag}>"


def test_index_references_only_existing_assets() -> None:
    parser = _Collector()
    parser.feed(_html())
    for _tag, attrs in parser.tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            if value and value.startswith("/static/"):
                assert (STATIC / value.removeprefix("/static/")).is_file(), value


def test_page_is_labelled_and_responsive() -> None:
    html = _html()
    assert '<html lang="en">' in html
    assert 'name="viewport"' in html
    assert "<fieldset" in html and "<legend" in html
    assert 'aria-live="polite"' in html
    assert 'for="reasoning"' in html
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    assert "prefers-reduced-motion" in css
    assert ":focus-visible" in css


def test_scripts_never_build_html_from_text() -> None:
    banned = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\s*\(|new Function)\b")
    for path in STATIC.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        hits = banned.findall(source)
        assert not hits, f"{path.name}: {hits}"


def test_module_imports_resolve() -> None:
    for path in STATIC.glob("*.js"):
        for spec in re.findall(r"from\s+'(\./[^']+)'", path.read_text(encoding="utf-8")):
            assert (STATIC / spec).is_file(), f"{path.name} imports missing {spec}"


def _random_texts(count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    # One code point each: letters, emoji, zero-width and format characters (not
    # whitespace for Python) and every kind of whitespace str.isspace knows.
    pool = list(
        "aZé中👍\U0001f3fd\u200b\ufeff\u00ad \n\t\r\v\f\u00a0\u1680\u2000\u2007\u200a"
        "\u2028\u2029\u202f\u205f\u3000\u001c\u001f\u0085\u180e-.'"
    )
    return ["".join(rnd.choice(pool) for _ in range(rnd.randint(0, 40))) for _ in range(count)]


def test_word_and_character_counts_match_python() -> None:
    texts = _random_texts(3000, seed=20261125)
    texts += ["", " ", "one two", "a\u200bb c", "x\u3000y\u00a0z", "tab\tand\nnewline", "👍🏽 emoji"]
    script = (
        "import { wordCount, pyLen, pyStrip } from './ingest_server/static/text.js';\n"
        "let data = '';\n"
        "process.stdin.on('data', (c) => { data += c; });\n"
        "process.stdin.on('end', () => {\n"
        "  const texts = JSON.parse(data);\n"
        "  process.stdout.write(JSON.stringify(texts.map((t) => [wordCount(t), pyLen(t), pyStrip(t)])));\n"
        "});\n"
    )
    result = subprocess.run(
        [node(), "--input-type=module", "-e", script],
        cwd=ROOT,
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    for text, (words, chars, stripped) in zip(texts, got, strict=True):
        assert words == len(text.split()), repr(text)
        assert chars == len(text), repr(text)
        assert stripped == text.strip(), repr(text)
