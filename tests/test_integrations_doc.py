"""docs/integrations.md's webhook verification code, run as written: the
Python and the JavaScript block each accept messages HireMate signed and
refuse a changed body, another secret and a timestamp six minutes old."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from hiremate import webhooks
from hiremate.timeutil import utcnow

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "integrations.md"
SECRET = "whsec_" + base64.b64encode(bytes(range(24))).decode()
OTHER = "whsec_" + base64.b64encode(bytes(range(1, 25))).decode()


def block(language: str, first_line: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    [code] = [text for text in blocks if text.startswith(first_line)]
    return code


def signed(body: bytes, *, age: int = 0, secret: str = SECRET) -> dict[str, str]:
    msg_id, timestamp = "msg_6650c0ffee0000000000b001", int(time.time()) - age
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhooks.sign(secret, msg_id, timestamp, body),
    }


def cases() -> list[tuple[str, dict[str, str], bytes, str, bool]]:
    """(name, headers, body, secret, accepted) for each case."""
    body = webhooks.body_of("attempt.completed", {"attempt_id": "a1", "tasks": 3}, utcnow()).encode()
    return [
        ("signed now", signed(body), body, SECRET, True),
        ("signed 4 minutes ago", signed(body, age=240), body, SECRET, True),
        ("two signatures, the second valid", _two(body), body, SECRET, True),
        ("a changed body", signed(body), body.replace(b'"a1"', b'"a2"'), SECRET, False),
        ("another secret", signed(body, secret=OTHER), body, SECRET, False),
        ("six minutes old", signed(body, age=360), body, SECRET, False),
    ]


def _two(body: bytes) -> dict[str, str]:
    headers = signed(body)
    wrong = signed(body, secret=OTHER)["webhook-signature"]
    return {**headers, "webhook-signature": f"{wrong} {headers['webhook-signature']}"}


def test_the_python_verification_code_accepts_hiremate_s_messages_and_refuses_the_rest():
    namespace: dict = {}
    exec(compile(block("python", "# verify_webhook.py"), str(DOC), "exec"), namespace)
    verify_webhook = namespace["verify_webhook"]
    for name, headers, body, secret, accepted in cases():
        if accepted:
            assert verify_webhook(secret, headers, body)["type"] == "attempt.completed", name
        else:
            with pytest.raises(ValueError):
                verify_webhook(secret, headers, body)


def test_the_javascript_verification_code_accepts_hiremate_s_messages_and_refuses_the_rest(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = tmp_path / "verify.js"
    script.write_text(
        block("javascript", "// verifyWebhook.js")
        + """
const cases = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const results = cases.map(([secret, headers, body64]) => {
  try {
    return verifyWebhook(secret, headers, Buffer.from(body64, "base64")).type;
  } catch (error) {
    return null;
  }
});
console.log(JSON.stringify(results));
"""
    )
    listed = cases()
    stdin = json.dumps([[secret, headers, base64.b64encode(body).decode()] for _, headers, body, secret, _ in listed])
    run = subprocess.run([node, str(script)], input=stdin, capture_output=True, text=True, timeout=30, check=True)
    results = json.loads(run.stdout)
    for (name, *_, accepted), result in zip(listed, results, strict=True):
        assert (result == "attempt.completed") is accepted, name
