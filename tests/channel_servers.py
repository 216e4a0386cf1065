"""Real servers on 127.0.0.1 for the channel adapter tests.

* ``RecordingServer``: an HTTP server (http.server in a thread, free port) that answers
  queued replies in order (then the default reply) and records every request.
* ``SmtpSink``: an aiosmtpd ``Controller`` SMTP server recording messages, optionally with
  STARTTLS, implicit TLS, AUTH and scripted RCPT/DATA replies.
* ``self_signed``: a certificate for 127.0.0.1/localhost made at test time (cryptography).
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

WAIT = 5.0  # seconds a test waits for a server to see something


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        return self.body, headers


@dataclass
class Recorded:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class RecordingServer:
    """``with RecordingServer() as srv: srv.queue(Reply(429, ...)); ...; srv.wait()``"""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply(200, b"ok")
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.received: queue.Queue[Recorded] = queue.Queue()
        self._lock = threading.Lock()
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                rec = Recorded(self.command, parts.path, parse_qs(parts.query),
                               {k.lower(): v for k, v in self.headers.items()}, body)
                with srv._lock:
                    reply = srv.replies.popleft() if srv.replies else srv.default
                    srv.requests.append(rec)
                data, headers = reply.encoded()
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                srv.received.put(rec)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def queue(self, *replies: Reply) -> RecordingServer:
        with self._lock:
            self.replies.extend(replies)
        return self

    def wait(self, n: int = 1, timeout: float = WAIT) -> list[Recorded]:
        """The next ``n`` requests the server answered (waits for them)."""
        return [self.received.get(timeout=timeout) for _ in range(n)]

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(WAIT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for 127.0.0.1 and localhost; ImportError without cryptography."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # who authenticated, if anyone
    tls: bool  # whether the session was encrypted


class SmtpSink:
    """An SMTP server on 127.0.0.1 recording each accepted message.

    ``starttls``: offer STARTTLS with this context (and require it); ``implicit_tls``:
    TLS from the first byte (SMTPS); ``users``: {login: password} to require AUTH;
    ``rcpt_replies`` / ``data_replies``: SMTP replies to give, in order, before accepting.
    """

    def __init__(self, *, starttls: ssl.SSLContext | None = None,
                 implicit_tls: ssl.SSLContext | None = None,
                 users: dict[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.mails: list[Mail] = []
        self.received: queue.Queue[Mail] = queue.Queue()
        self.rcpt_replies: deque[str] = deque()
        self.data_replies: deque[str] = deque()
        sink = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any,
                                  address: str, rcpt_options: list[str]) -> str:
                if sink.rcpt_replies:
                    return sink.rcpt_replies.popleft()
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if sink.data_replies:
                    return sink.data_replies.popleft()
                msg = message_from_bytes(envelope.original_content or envelope.content,
                                         policy=policy.default)
                assert isinstance(msg, EmailMessage)
                login = session.auth_data.login.decode() if session.auth_data else None
                mail = Mail(envelope.mail_from, list(envelope.rcpt_tos), msg, login,
                            session.ssl is not None)
                sink.mails.append(mail)
                sink.received.put(mail)
                return "250 Message accepted for delivery"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         auth_data: Any) -> AuthResult:
            ok = (isinstance(auth_data, LoginPassword) and users is not None
                  and users.get(auth_data.login.decode()) == auth_data.password.decode())
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        kwargs: dict[str, Any] = {}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if users is not None:
            kwargs.update(authenticator=authenticate, auth_required=True)
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     ssl_context=implicit_tls, ready_timeout=WAIT, **kwargs)

    def wait(self, timeout: float = WAIT) -> Mail:
        return self.received.get(timeout=timeout)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
