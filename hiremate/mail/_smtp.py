"""Talking to the mail server with the standard library's smtplib.

``smtp://`` connects in plain text and upgrades with STARTTLS whenever the
server offers it; without the offer it sends in plain text, unless
HIREMATE_SMTP_REQUIRE_TLS, when it refuses. ``smtps://`` is TLS from the
first byte. Certificates are verified against the system's trust store (or
``SSL_CERT_FILE``). One ``Connection`` serves a whole drain batch and
reconnects after a dropped connection.

Every failure becomes a ``MailSendFailed`` with the server's reason (the
recipient's address replaced by "the recipient") and whether trying again
may help: a 5xx refusal of the recipient or of the message is permanent,
anything else (4xx, a dropped connection, a refused login, no STARTTLS) is
retried, because a person can fix it without the message changing.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from hiremate.errors import MailSendFailed

TIMEOUT_SECONDS = 20.0
REASON_LENGTH = 300


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None
    require_tls: bool

    @classmethod
    def from_url(cls, url: str, *, require_tls: bool) -> SmtpConfig:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 587),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            require_tls=require_tls,
        )

    def describe(self) -> str:
        """Where mail goes, without the credentials."""
        how = "TLS" if self.implicit_tls else ("STARTTLS required" if self.require_tls else "STARTTLS when offered")
        return f"{self.host}:{self.port} ({how})"


class Connection:
    """A lazily opened SMTP connection, used for several messages."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _open(self) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context()
        try:
            if config.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=TIMEOUT_SECONDS, context=context
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT_SECONDS)
            try:
                smtp.ehlo()
                if not config.implicit_tls:
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=context)
                        smtp.ehlo()
                    elif config.require_tls:
                        raise MailSendFailed(
                            "the mail server does not offer STARTTLS and HIREMATE_SMTP_REQUIRE_TLS is true: "
                            "nothing was sent",
                            permanent=False,
                        )
                if config.username:
                    smtp.login(config.username, config.password or "")
            except BaseException:
                smtp.close()
                raise
        except MailSendFailed:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise MailSendFailed(f"the mail server refused the login: {_said(exc)}", permanent=False) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailSendFailed(f"the mail server refused the connection: {_said(exc)}", permanent=False) from exc
        except ssl.SSLError as exc:
            raise MailSendFailed(f"TLS with the mail server failed: {exc.reason or exc}", permanent=False) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailSendFailed(_network(exc, config), permanent=False) from exc
        return smtp

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Send one message to one recipient; MailSendFailed when it was not accepted."""
        if self._smtp is None:
            self._smtp = self._open()
        try:
            refused = self._smtp.send_message(message, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, said = next(iter(exc.recipients.values()), (0, b""))
            raise MailSendFailed(_reason(code, said, recipient), permanent=500 <= code < 600) from exc
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            raise MailSendFailed(
                f"the sender was refused: {_reason(exc.smtp_code, exc.smtp_error, recipient)}", permanent=False
            ) from exc
        except smtplib.SMTPDataError as exc:
            self._reset()
            raise MailSendFailed(
                _reason(exc.smtp_code, exc.smtp_error, recipient), permanent=500 <= exc.smtp_code < 600
            ) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise MailSendFailed(_network(exc, self.config), permanent=False) from exc
        except smtplib.SMTPException as exc:
            self._drop()
            raise MailSendFailed(f"the mail server failed: {exc}", permanent=False) from exc
        if refused:
            code, said = next(iter(refused.values()))
            raise MailSendFailed(_reason(code, said, recipient), permanent=500 <= code < 600)

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def _said(exc: smtplib.SMTPResponseException) -> str:
    return _reason(exc.smtp_code, exc.smtp_error, None)


def _reason(code: int, said: bytes | str, recipient: str | None) -> str:
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    text = " ".join(text.split())
    if recipient:
        for form in (f"<{recipient}>", recipient):
            text = text.replace(form, "the recipient").replace(form.lower(), "the recipient")
    return f"{code} {text}".strip()


def _network(exc: BaseException, config: SmtpConfig) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"the mail server {config.host}:{config.port} did not answer in {TIMEOUT_SECONDS:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return f"the mail server {config.host}:{config.port} refused the connection"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the mail server {config.host}:{config.port} closed the connection"
    return f"cannot reach the mail server {config.host}:{config.port}: {exc}"
