"""The production deployment on paper (deploy/, docs/deploy.md).

This machine has no container runtime, so nothing here starts a container:
the compose file is read (with the small reader below: PyYAML is not a
dependency, and deploy/compose.yaml keeps to plain block YAML for it) and
checked against what the code expects. Every HIREMATE_* variable a service
sets must be a setting (a typo would be ignored silently: Settings ignores
unknown HIREMATE_* names), the settings must load, only the TLS proxy may
publish a port, images are pinned, the Dockerfile runs as a user other than
root and copies every package the processes import, and the sizing in
docs/deploy.md is the figure bench/README.md measured.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from hiremate.settings import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROXY = "proxy"
HIREMATE_SERVICES = ("app", "ingest1", "ingest2")


# ---------------------------------------------------------------- a reader for plain block YAML


class YamlSubsetError(ValueError):
    pass


def _scalar(text: str) -> Any:
    if text.startswith('"'):
        if not text.endswith('"') or len(text) < 2:
            raise YamlSubsetError(f"unterminated string: {text}")
        return ast.literal_eval(text)  # YAML's double-quoted escapes used here are Python's
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise YamlSubsetError(f"unterminated string: {text}")
        return text[1:-1].replace("''", "'")
    if text == "{}":
        return {}
    if text[:1] in "[{&*!|>%@`":
        raise YamlSubsetError(f"not plain block YAML: {text}")
    return text


def _strip_comment(line: str) -> str:
    """``line`` without a trailing `` # comment`` (outside quotes)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"" and (index == 0 or line[index - 1] in " :-"):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] == " "):
            return line[:index].rstrip()
    return line.rstrip()


def load_block_yaml(text: str) -> Any:
    """Block mappings, block sequences of scalars, quoted and plain scalars,
    ``{}``, comments, and anchors (``&name``) with aliases (``*name``) of whole
    values. Anything else raises, so nothing is read wrongly in silence."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlSubsetError(f"line {number}: tab in indentation")
        line = _strip_comment(raw)
        if line.strip():
            lines.append((number, len(line) - len(line.lstrip()), line.strip()))
    anchors: dict[str, Any] = {}

    def block(start: int, indent: int) -> tuple[Any, int]:
        if lines[start][2].startswith("- "):
            items: list[Any] = []
            index = start
            while index < len(lines) and lines[index][1] == indent and lines[index][2].startswith("- "):
                item = lines[index][2][2:].strip()
                if item[:1] not in "'\"" and re.search(r":( |$)", item):
                    raise YamlSubsetError(f"line {lines[index][0]}: a mapping in a sequence: {item}")
                items.append(_scalar(item))
                index += 1
            return items, index
        mapping: dict[str, Any] = {}
        index = start
        while index < len(lines) and lines[index][1] == indent:
            number, _, content = lines[index]
            key, colon, rest = content.partition(":")
            if not colon or (rest and not rest.startswith(" ")) or key.startswith(("- ", '"', "'")):
                raise YamlSubsetError(f"line {number}: expected `key: value`: {content}")
            if key == "<<":
                raise YamlSubsetError(f"line {number}: merge keys are not read here")
            if key in mapping:
                raise YamlSubsetError(f"line {number}: duplicate key {key}")
            rest = rest.strip()
            anchor = None
            if rest.startswith("&"):
                anchor, _, rest = rest[1:].partition(" ")
                rest = rest.strip()
            index += 1
            if rest.startswith("*"):
                value = anchors[rest[1:]]
            elif rest:
                value = _scalar(rest)
            elif index < len(lines) and lines[index][1] > indent:
                value, index = block(index, lines[index][1])
            elif index < len(lines) and lines[index][1] == indent and lines[index][2].startswith("- "):
                value, index = block(index, indent)  # a sequence may sit at its key's indentation
            else:
                value = None
            if anchor:
                anchors[anchor] = value
            mapping[key] = value
        if index < len(lines) and lines[index][1] > indent:
            raise YamlSubsetError(f"line {lines[index][0]}: unexpected indentation")
        return mapping, index

    document, end = block(0, lines[0][1])
    if end != len(lines):
        raise YamlSubsetError(f"line {lines[end][0]}: not read")
    return document


def test_the_reader_reads_what_it_claims_and_refuses_the_rest():
    text = """
top: &anchor
  a: "x: #1"   # comment
  b: 'it''s'
  list:
    - one
    - "two"
other: *anchor
empty: {}
"""
    assert load_block_yaml(text) == {
        "top": {"a": "x: #1", "b": "it's", "list": ["one", "two"]},
        "other": {"a": "x: #1", "b": "it's", "list": ["one", "two"]},
        "empty": {},
    }
    for bad in ("a: [1, 2]", "a:\n  - {b: 1}", "a:\n  - b: 1", "a: 1\na: 2", "a: 1\n   b: 2", "a: |", "<<: *x"):
        with pytest.raises((YamlSubsetError, KeyError)):
            load_block_yaml(bad)


# ---------------------------------------------------------------- the compose file


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_block_yaml((DEPLOY / "compose.yaml").read_text())


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return dict(env)


SETTING_NAMES = {env_name(field) for field in Settings.model_fields}


def test_every_hiremate_variable_the_services_set_is_a_setting(compose):
    set_somewhere = set()
    for name, service in compose["services"].items():
        for variable in environment(service):
            if variable.startswith("HIREMATE_"):
                assert variable in SETTING_NAMES, f"{name} sets {variable}, which hiremate/settings.py does not declare"
                set_somewhere.add(variable)
    assert {
        "HIREMATE_MONGODB_URI",
        "HIREMATE_SECRET",
        "HIREMATE_AUDIT_KEY",
        "HIREMATE_PUBLIC_URL",
        "HIREMATE_TRUST_PROXY",
    } <= set_somewhere


def _interpolated(value: str) -> str:
    """A value as compose would pass it, with stand-ins for what .env gives."""
    stand_ins = {
        "MONGO_APP_PASSWORD": "0f" * 32,
        "HIREMATE_SECRET": "s" * 64,
        "HIREMATE_AUDIT_KEY": "a" * 64,
        "ASSESS_DOMAIN": "assess.example.com",
        "APP_DOMAIN": "hire.example.com",
    }
    # ${X:?message} is required (a stand-in); ${X:-} is optional (empty: unset).
    value = re.sub(r"\$\{(\w+):-\}", "", value)
    value = re.sub(r"\$\{(\w+)(?::\?[^}]*)?\}", lambda m: stand_ins[m.group(1)], value)
    return value.replace("$$", "$")


def test_hiremate_services_share_one_valid_configuration(compose, monkeypatch):
    """The same settings in every HireMate process (one secret, one database),
    and they load: a MongoDB replica set, a required secret, HTTPS links,
    behind the proxy."""
    services = compose["services"]
    envs = [environment(services[name]) for name in HIREMATE_SERVICES]
    assert all(env == envs[0] for env in envs)
    env = envs[0]
    assert env["HIREMATE_SECRET"].startswith("${HIREMATE_SECRET:?")  # required, never a default
    assert env["HIREMATE_AUDIT_KEY"].startswith("${HIREMATE_AUDIT_KEY:?")  # likewise
    assert "${MONGO_APP_PASSWORD:?" in env["HIREMATE_MONGODB_URI"]
    for variable, value in env.items():
        monkeypatch.setenv(variable, _interpolated(value))
    settings = Settings()
    assert not settings.uses_embedded_store
    assert "replicaSet=rs0" in settings.mongo_uri and "authSource=hiremate" in settings.mongo_uri
    assert settings.public_url == "https://assess.example.com"
    assert settings.trust_proxy is True
    assert len(settings.secret) >= 32
    assert len(settings.audit_key) >= 32 and settings.audit_key != settings.secret
    assert settings.smtp_url is None and settings.app_url == "https://hire.example.com"  # mail off until set


def test_only_the_proxy_publishes_ports(compose):
    for name, service in compose["services"].items():
        assert service.get("network_mode") != "host", name
        if name != PROXY:
            assert "ports" not in service, f"{name} publishes {service.get('ports')}: only the proxy may"
    assert sorted(compose["services"][PROXY]["ports"]) == ["443:443", "443:443/udp", "80:80"]
    # The others are on internal networks only: no route out, none in but the proxy.
    networks = compose["networks"]
    for name, service in compose["services"].items():
        if name != PROXY:
            assert all(networks[network].get("internal") == "true" for network in service["networks"]), name


def test_a_replica_set_of_three_and_two_ingest_servers(compose):
    services = compose["services"]
    for member in ("mongo1", "mongo2", "mongo3"):
        assert "--replSet rs0" in services[member]["command"] and "--keyFile" in services[member]["command"]
        assert "mongo_keyfile" in services[member]["secrets"]
    assert services["mongo-init"]["command"].endswith("--file /mongo-init.js")
    init = (DEPLOY / "mongo-init.js").read_text()
    assert all(f'host: "mongo{n}:27017"' in init for n in (1, 2, 3))
    assert 'role: "readWrite", db: "hiremate"' in init  # the app's user can touch nothing else
    for name in ("ingest1", "ingest2"):
        assert services[name]["command"].startswith("python -m ingest_server --host 0.0.0.0")
    assert services["app"]["command"].startswith("python -m streamlit run asgi.py --server.address 0.0.0.0")
    for name in HIREMATE_SERVICES:
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert services[name]["depends_on"]["mongo-init"] == {"condition": "service_completed_successfully"}


def test_images_are_pinned(compose):
    for name, service in compose["services"].items():
        image = service["image"]
        if name in HIREMATE_SERVICES:
            assert image == "hiremate:local"
            continue
        assert re.fullmatch(r"[\w.-]+:\d+\.\d+\.\d+(-[\w.]+)?(@sha256:[0-9a-f]{64})?", image), (name, image)


# ---------------------------------------------------------------- the proxy


def test_the_proxy_sends_candidates_to_the_ingest_servers_and_recruiters_to_the_app():
    caddyfile = "\n".join(line.split("#")[0] for line in (DEPLOY / "Caddyfile").read_text().splitlines())
    assess = caddyfile[caddyfile.index("{$ASSESS_DOMAIN} {") : caddyfile.index("{$APP_DOMAIN} {")]
    app = caddyfile[caddyfile.index("{$APP_DOMAIN} {") :]
    assert "@ingest path /a/* /ws/* /static/* /healthz" in assess
    assert "reverse_proxy ingest1:8765 ingest2:8765" in assess and "respond 404" in assess
    assert "name app" in app and "port 8501" in app
    assert "lb_policy cookie" in app  # Streamlit's sessions live in one process
    assert "trusted_proxies" not in caddyfile  # client-sent X-Forwarded-* are dropped
    assert "Strict-Transport-Security" in caddyfile


# ---------------------------------------------------------------- the image


def test_the_image_runs_as_a_user_and_holds_the_code_it_runs():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith((" ", "#"))]
    [base] = [line for line in instructions if line.startswith("FROM ")]
    assert re.fullmatch(r"FROM python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    copied = {part.rstrip("/") for line in instructions if line.startswith("COPY ") for part in line.split()[1:-1]}
    # What `streamlit run asgi.py` and `python -m ingest_server` import, and Streamlit's config.
    assert {"app.py", "asgi.py", "app_pages", "recruiter", "hiremate", "ingest_server", "api", ".streamlit"} <= copied
    assert "requirements.txt" in copied and "pip install -r" in dockerfile


# ---------------------------------------------------------------- the documentation


def test_the_deploy_guide_quotes_the_measured_sizing():
    bench = (ROOT / "bench" / "README.md").read_text()
    measured = re.search(r"one ingest process serves about \*\*([\d,]+) concurrent candidates\*\*", bench)
    assert measured, "bench/README.md no longer states candidates per ingest process"
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert f"{measured.group(1)} concurrent candidates" in guide, "docs/deploy.md quotes an old figure"
    for topic in ("HIREMATE_SECRET", "mongodump", "TLS", "ingest3", "bench/README.md"):
        assert topic in guide, topic
