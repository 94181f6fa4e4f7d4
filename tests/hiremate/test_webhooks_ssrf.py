"""No server-side request forgery through webhooks: each attack performed,
at registration and at delivery (DNS can change), and a redirect to a
private address never followed."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from hiremate import db as dbmod
from hiremate import webhooks
from hiremate.errors import WebhookTargetRefused
from hiremate.scope import Scope
from hiremate.webhooks import _urls
from tests.support.page_helpers import make_org
from tests.support.webhook_receiver import receiver

ATTACKS = [
    "https://10.0.0.5/hooks",
    "http://10.0.0.5/hooks",
    "https://192.168.1.1/",
    "https://172.16.0.1/",
    "https://169.254.169.254/latest/meta-data/",  # the clouds' metadata service
    "http://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/",
    "https://[fc00::1]/",  # unique-local
    "https://[::ffff:10.0.0.1]/",  # IPv4-mapped
    "https://[::ffff:127.0.0.1]/",
    "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "https://127.0.0.2/",
    "http://127.0.0.2/",
    "https://127.0.0.1.nip.io.invalid/",  # does not resolve (offline or not)
    "https://0.0.0.0/",
    "http://0.0.0.0:8765/",
    "https://[::]/",
    "http://2130706433/",  # 127.0.0.1 in decimal
    "https://2130706433/",
    "http://0x7f.1/",  # 127.0.0.1 in hex, short form
    "https://0x7f.1/",
    "https://0177.0.0.1/",  # octal
    "https://100.64.0.1/",  # shared address space
    "https://224.0.0.1/",  # multicast
    "https://240.0.0.1/",  # reserved
    "http://example.com/hooks",  # http to anything but this machine
    "https://user:password@example.com/",
    "https://@93.184.216.34/",
    "ftp://93.184.216.34/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/",
    "https://93.184.216.34/" + "a" * 2100,
    "https://93.184.216.34:0/",
    "https:///nohost",
    "https://93.184.216.34/ spaced",
    "",
]


@pytest.fixture
def org(db):
    return make_org(db)


def admin(org) -> Scope:
    return Scope(org.db, org.scope.organization_id, org.user.id, is_admin=True)


@pytest.mark.parametrize("url", ATTACKS)
def test_an_unsafe_url_is_refused_at_registration(db, org, settings, url):
    with pytest.raises(WebhookTargetRefused):
        webhooks.add_endpoint(admin(org), url, None, settings=settings)
    assert db[dbmod.WEBHOOK_ENDPOINTS].count_documents({}) == 0


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hooks", "http://localhost:9/", "http://[::1]:9/x", "https://93.184.216.34/hooks"]
)
def test_local_receivers_and_public_https_addresses_are_accepted(url):
    target = webhooks.check_url(url, allow_private=False)
    assert target.addresses


def test_a_name_that_resolves_to_a_private_address_is_refused(db, org, settings):
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 443)}
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if any(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip(f"this machine's name resolves to a public address: {addresses}")
    with pytest.raises(WebhookTargetRefused, match="resolves to a private"):
        webhooks.add_endpoint(admin(org), f"https://{name}/hooks", None, settings=settings)


def test_the_setting_allows_private_targets_but_never_http_to_a_public_one(settings):
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    for url in ("https://10.0.0.5/", "http://10.0.0.5/", "https://[fe80::1]/", "http://127.0.0.2:9/"):
        assert webhooks.check_url(url, allow_private=allowed.webhook_allow_private)
    with pytest.raises(WebhookTargetRefused, match="https"):
        webhooks.check_url("http://93.184.216.34/", allow_private=True)
    with pytest.raises(WebhookTargetRefused):  # credentials and schemes stay refused
        webhooks.check_url("https://u:p@10.0.0.5/", allow_private=True)


def test_the_address_is_checked_again_at_every_try(db, org, settings):
    """Registered while private targets were allowed (or before a DNS change):
    the try is refused, recorded, and nothing is connected to."""
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    endpoint, _ = webhooks.add_endpoint(admin(org), "https://169.254.169.254/latest/", None, settings=allowed)
    webhooks.emit(db, org.scope.organization_id, "attempt.started", {})
    report = webhooks.drain(db, settings)
    assert report.retrying == 1 and report.codes == [None]
    [view] = webhooks.list_deliveries(admin(org), endpoint.id)
    assert view.last_error.startswith("refused: 169.254.169.254 is or resolves to a private")
    assert view.log[0].code is None


def test_a_redirect_to_a_private_address_is_not_followed(db, org, settings):
    with receiver() as inside, receiver([302], location=None) as outside:
        outside.location = f"http://127.0.0.1:{inside.port}/internal"
        endpoint, _ = webhooks.add_endpoint(admin(org), outside.url, None, settings=settings)
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {})
        report = webhooks.drain(db, settings)
        assert report.retrying == 1 and report.codes == [302]
        assert len(outside.received) == 1 and inside.received == []
    [view] = webhooks.list_deliveries(admin(org), endpoint.id)
    assert view.status == webhooks.QUEUED and view.last_code == 302
    assert view.last_error.startswith("redirect not followed")


def test_a_callback_url_follows_the_same_rule(db, org, settings):
    for url in ("https://169.254.169.254/", "http://2130706433/", "https://10.0.0.5/"):
        with pytest.raises(WebhookTargetRefused):
            webhooks.queue_callback(
                db, organization_id=org.scope.organization_id, attempt_id=None, url=url, settings=settings
            )
    assert db[dbmod.WEBHOOK_DELIVERIES].count_documents({}) == 0


# ---------------------------------------------------------------- https: the checked address, the URL's name


def _self_signed(tmp_path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def _tls_receiver(cert_file, key_file):
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: dict = {"server_names": [], "hosts": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["hosts"].append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda _socket, server_name, _context: seen["server_names"].append(server_name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_https_keeps_the_url_s_name_for_tls_and_host_and_verifies_the_certificate(
    db, org, settings, tmp_path, monkeypatch
):
    cert_file, key_file = _self_signed(tmp_path)
    server, seen = _tls_receiver(cert_file, key_file)
    try:
        url = f"https://localhost:{server.server_address[1]}/hooks"
        endpoint, _ = webhooks.add_endpoint(admin(org), url, None, settings=settings)
        webhooks.emit(db, org.scope.organization_id, "attempt.started", {})
        # Not trusted: the certificate is verified, so the try fails.
        assert webhooks.drain(db, settings).retrying == 1
        [view] = webhooks.list_deliveries(admin(org), endpoint.id)
        assert "CERTIFICATE_VERIFY_FAILED" in view.last_error and seen["hosts"] == []
        # Trusted: delivered, with the URL's name as the TLS server name and the Host header.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        webhooks.redeliver(admin(org), view.id)
        assert webhooks.drain(db, settings).delivered == 1
    finally:
        server.shutdown()
        server.server_close()
    assert seen["server_names"][-1] == "localhost"
    assert seen["hosts"] == [f"localhost:{server.server_address[1]}"]


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_deadline():
    """Each byte within the socket timeout, the whole never: the deadline ends the try."""
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

    threading.Thread(target=drip, daemon=True).start()
    target = webhooks.check_url(f"http://127.0.0.1:{listener.getsockname()[1]}/", allow_private=False)
    try:
        with pytest.raises(TimeoutError, match="no complete answer within 1 s"):
            _urls.send(target, "POST", {}, b"{}", timeout=1.0)
    finally:
        stop.set()
        listener.close()
