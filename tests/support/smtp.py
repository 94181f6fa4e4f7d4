"""A real SMTP server on loopback (aiosmtpd), for the mail tests.

``smtp_server`` yields an ``SmtpServer``: its ``url`` for HIREMATE_SMTP_URL,
the ``messages`` it accepted (parsed, with whether TLS was on), ``refuse``
to make it answer every recipient with a code (``"451 4.3.0 try later"``,
``"550 5.1.1 <x@y> no such user"``) until set back to None, and
``wait_for(n)``. ``smtp_tls_server`` offers STARTTLS with a self-signed
certificate made with ``cryptography``, trusted by the client through
SSL_CERT_FILE; ``smtps_server`` speaks TLS from the first byte (its url is
``smtps://``); ``smtp_login_server`` offers STARTTLS and accepts mail only
after a login as ``LOGIN_USER`` / ``LOGIN_PASSWORD`` (over TLS). Import the
fixtures into a test module.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    at: float  # time.monotonic() when accepted
    tls: bool

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return part.get_content()

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return part.get_content()


@dataclass
class SmtpServer:
    host: str
    port: int
    scheme: str = "smtp"
    messages: list[Received] = field(default_factory=list)
    refuse: str | None = None
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted), in order
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} messages arrived, not {count}")
        return list(self.messages)

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        tls = bool(session.ssl) or server.transport.get_extra_info("ssl_object") is not None  # STARTTLS, or smtps
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message, time.monotonic(), tls)
        with self.arrived:
            self.messages.append(received)
            self.arrived.notify_all()
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        user, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = (user, password) == (LOGIN_USER, LOGIN_PASSWORD)
        self.logins.append((user, accepted))
        return AuthResult(success=accepted, handled=False)  # handled=False: aiosmtpd answers 535 itself


LOGIN_USER, LOGIN_PASSWORD = "hiring@acme.test", "p@ss word/with:colon"


def _serve(handler: SmtpServer, **kwargs: Any) -> Iterator[SmtpServer]:
    controller = Controller(handler, hostname=handler.host, port=handler.port, **kwargs)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 (its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server (no STARTTLS) on loopback."""
    yield from _serve(SmtpServer("127.0.0.1", free_port()))


@pytest.fixture
def smtp_tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """An SMTP server offering STARTTLS with a certificate the client trusts (SSL_CERT_FILE)."""
    yield from _serve(SmtpServer("127.0.0.1", free_port()), tls_context=_trusted_context(tmp_path, monkeypatch))


def _trusted_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return context


@pytest.fixture
def smtps_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """An SMTP server speaking TLS from the first byte (smtps://), trusted by the client."""
    context = _trusted_context(tmp_path, monkeypatch)
    handler = SmtpServer("127.0.0.1", free_port(), scheme="smtps")
    yield from _serve(handler, ssl_context=context, server_hostname="localhost")


@pytest.fixture
def smtp_login_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """STARTTLS, then a required login (LOGIN_USER / LOGIN_PASSWORD) before any mail."""
    context = _trusted_context(tmp_path, monkeypatch)
    handler = SmtpServer("127.0.0.1", free_port())
    yield from _serve(
        handler, tls_context=context, auth_required=True, auth_require_tls=True, authenticator=handler.authenticate
    )
