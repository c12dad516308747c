"""Mail, sent from the application's own processes.

Rules:
- ``IDP_SMTP_URL`` names the server: ``smtp://[user:password@]host[:port]``
  (STARTTLS whenever the server offers it, required with ``?starttls=required``)
  or ``smtps://…`` (TLS from the start); ``IDP_MAIL_FROM`` is the sender;
- without a server, each message is written to ``instance/mail/`` as an
  ``.eml`` file and named in the log, so the demo set-up needs nothing;
- a request never waits for the mail server: messages go on a bounded queue
  (``QUEUE``) that one background thread per process works through; a full
  queue drops the message and says so in the log;
- a failed delivery is retried (``RETRIES``, with growing pauses), then logged;
  what happens to a message never reaches a page (which would tell whether an
  address has an account);
- every message is text and HTML (multipart/alternative); a header value with
  a line break is refused when the message is built (no header injection).
"""

from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app

log = logging.getLogger(__name__)

QUEUE = 200
RETRIES = (1.0, 5.0, 30.0)  # pauses before the second, third and fourth attempt
TIMEOUT = 10
EXTENSION = "idp.mail"


@dataclass(frozen=True)
class Transport:
    """Where mail goes: an SMTP server, or a directory of ``.eml`` files."""

    host: str | None = None
    port: int = 25
    implicit_tls: bool = False
    starttls_required: bool = False
    username: str | None = None
    password: str | None = None
    directory: Path | None = None

    @classmethod
    def of(cls, url: str | None, instance_path: str) -> Transport:
        if not url:
            return cls(directory=Path(instance_path) / "mail")
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("IDP_SMTP_URL is smtp://host[:port] or smtps://host[:port]")
        options = parse_qs(parts.query)
        return cls(host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps"
                                                             else 25),
                   implicit_tls=parts.scheme == "smtps",
                   starttls_required=options.get("starttls") == ["required"],
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)

    def deliver(self, message: EmailMessage) -> None:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{message['Message-ID'].strip('<>')}.eml"
            (self.directory / name.replace("@", "_")).write_bytes(bytes(message))
            log.info("mail to %s: %s (written to %s)", message["To"], message["Subject"],
                     self.directory / name.replace("@", "_"))
            return
        assert self.host is not None
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
        with smtp:
            smtp.ehlo()
            if not self.implicit_tls and (smtp.has_extn("starttls") or self.starttls_required):
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
        log.info("mail to %s: %s (sent through %s)", message["To"], message["Subject"],
                 self.host)


class Mailer:
    """The process's sender: a bounded queue and one daemon thread."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.queue: queue.Queue[EmailMessage] = queue.Queue(QUEUE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.undelivered = 0  # mails given up on, since the process started

    def send(self, message: EmailMessage) -> None:
        try:
            self.queue.put_nowait(message)
        except queue.Full:
            log.error("mail queue full: dropped the mail to %s (%s)", message["To"],
                      message["Subject"])
            return
        self._start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued message was handled (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.queue.unfinished_tasks

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="idp-mail",
                                                daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            message = self.queue.get()
            try:
                self._deliver(message)
            finally:
                self.queue.task_done()

    def _deliver(self, message: EmailMessage) -> None:
        for attempt, pause in enumerate((0.0, *RETRIES)):
            time.sleep(pause)
            try:
                self.transport.deliver(message)
                return
            except (OSError, smtplib.SMTPException) as error:
                log.warning("mail to %s: attempt %d failed: %s", message["To"], attempt + 1,
                            error.__class__.__name__)
        log.error("mail to %s (%s) not delivered after %d attempts", message["To"],
                  message["Subject"], len(RETRIES) + 1)
        self.undelivered += 1


def build(to: str, subject: str, text: str, html: str) -> EmailMessage:
    """A text and HTML message from ``IDP_MAIL_FROM``; raises ``ValueError`` for a
    header value with a line break."""
    message = EmailMessage()
    message["From"] = current_app.config["IDP_MAIL_FROM"] or \
        f"no-reply@{urlsplit(current_app.config['IDP_ISSUER']).hostname}"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=urlsplit(
        current_app.config["IDP_ISSUER"]).hostname or "localhost")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(message: EmailMessage) -> None:
    mailer: Mailer = current_app.extensions[EXTENSION]
    mailer.send(message)


def delivered(timeout: float = 60.0) -> bool:
    """Wait for this process's queued mail: a command that mails must not exit first
    (the sender is a daemon thread, gone with the process)."""
    mailer: Mailer = current_app.extensions[EXTENSION]
    given_up = mailer.undelivered
    return mailer.flush(timeout) and mailer.undelivered == given_up


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Mailer(Transport.of(app.config["IDP_SMTP_URL"],
                                                    app.instance_path))
