"""SMTP: connect, transmit one message step by step, and classify what the server said."""
from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr

from markupsafe import escape

from outreach.mail.headers import check_header


@dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    security: str
    username: str
    password: str
    timeout: float = 60.0


@dataclass(frozen=True)
class Outcome:
    #: sent | retry | permanent | bounced | blocked | unknown | cancelled; blocked: a 5.7.x answer (policy: the
    #: server refuses this sender), which pauses the mailbox rather than failing the message
    kind: str
    detail: str = ""


class SmtpConnectError(OSError):
    """Could not connect or log in; the text says why in one line."""


def connect(account: SmtpAccount) -> smtplib.SMTP:
    """An open, authenticated connection, or SmtpConnectError."""
    try:
        if account.security == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(account.host, account.port, timeout=account.timeout,
                                                  context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(account.host, account.port, timeout=account.timeout)
        conn.ehlo()
        if account.security == "starttls":
            conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
        if account.username:
            conn.login(account.username, account.password)
        return conn
    except smtplib.SMTPAuthenticationError as exc:
        raise SmtpConnectError(f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise SmtpConnectError(f"SMTP server does not support it: {exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SmtpConnectError(f"cannot connect to SMTP {account.host}:{account.port}: {exc or type(exc).__name__}")\
            from None


def test_connection(account: SmtpAccount) -> str:
    """A one-line success message, or SmtpConnectError."""
    conn = connect(account)
    try:
        code, _ = conn.noop()
    finally:
        _quit(conn)
    return f"SMTP {account.host}:{account.port} answered ({code}) and accepted the login"


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).replace("\r\n", " ")[:300]


#: an RFC 3463 enhanced status 5.7.x at the start of a reply line: security or policy, e.g. "550 5.7.1 blocked"
_BLOCK = re.compile(rb"^\s*5\.7\.\d{1,3}\b", re.MULTILINE)


def is_block(code: int, reply: bytes | str) -> bool:
    """A permanent refusal on policy grounds (5.7.x): the server refuses the sender, not the address."""
    return code >= 500 and bool(_BLOCK.search(_bytes(reply)))


def _classify(code: int, reply: bytes | str, stage: str) -> Outcome:
    text = f"{stage}: {code} {_text(reply)}"
    if 400 <= code < 500:
        return Outcome("retry", text)
    if is_block(code, reply):
        return Outcome("blocked", text)
    if code >= 500 and stage == "RCPT TO" and (code in (550, 551, 553) or b"5.1." in _bytes(reply)):
        return Outcome("bounced", text)
    return Outcome("permanent", text)


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def transmit(conn: smtplib.SMTP, sender: str, recipient: str, data: bytes,
             before_data: Callable[[bool], bool], copy_to: str = "") -> Outcome:
    """MAIL, RCPT (and RCPT `copy_to`, an envelope-only copy), then `before_data(copy accepted)` (False cancels),
    then DATA.

    Only a failure after the final dot went out is `unknown`: the server may have accepted the message.
    """
    try:
        code, reply = conn.mail(sender)
        if code != 250:
            conn.rset()
            return _classify(code, reply, "MAIL FROM")
        code, reply = conn.rcpt(recipient)
        if code not in (250, 251):
            conn.rset()
            return _classify(code, reply, "RCPT TO")
        copied = bool(copy_to) and conn.rcpt(copy_to)[0] in (250, 251)
        if not before_data(copied):
            conn.rset()
            return Outcome("cancelled", "stopped just before DATA")
        code, reply = conn.docmd("data")
        if code != 354:
            conn.rset()
            return _classify(code, reply, "DATA")
        # one write with the final dot: a separate small write would wait for the server's delayed ACK (Nagle)
        conn.send(_dot_stuffed(data) + b".\r\n")
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        # the content, or at least its final dot, never went out: the server cannot have accepted the message
        return Outcome("retry", f"connection lost before the end of DATA: {exc or type(exc).__name__}")
    try:
        code, reply = conn.getreply()
    except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
        return Outcome("unknown", f"connection lost after DATA: {exc or type(exc).__name__}")
    if code == 250:
        return Outcome("sent", f"{code} {_text(reply)}")
    return _classify(code, reply, "end of DATA")


def _dot_stuffed(data: bytes) -> bytes:
    """The content as DATA sends it, up to (not including) the final dot."""
    body = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    body = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in body.split(b"\r\n"))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body


def quit_quietly(conn: smtplib.SMTP) -> None:
    _quit(conn)


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def build_message(*, message_id: str, from_email: str, from_name: str, to_email: str, to_name: str, subject: str,
                  body_text: str, body_html: str, in_reply_to: str, references: str, unsubscribe_url: str,
                  unsubscribe_mailto: str, date: object) -> Message:
    """The RFC 5322 message; header values are checked for CR/LF/NUL first.

    List-Unsubscribe always offers the mailto link; the unsubscribe URL and the RFC 8058 one-click header
    (List-Unsubscribe-Post) only when the URL is https, as the RFC requires (the footer shows the URL anyway).
    Built with the compat32 classes, which are several times faster than EmailMessage for this fixed shape.
    """
    for name, value in (("sender name", from_name), ("sender address", from_email), ("recipient name", to_name),
                        ("recipient address", to_email), ("subject", subject), ("In-Reply-To", in_reply_to),
                        ("References", references), ("unsubscribe URL", unsubscribe_url),
                        ("unsubscribe mailto", unsubscribe_mailto)):
        check_header(name, value)
    footer = f"\n\n--\nIf you would rather not hear from me again: {unsubscribe_url}\n"
    text = MIMEText(body_text.rstrip("\n") + footer, "plain", _QP_UTF8)
    msg: Message
    if body_html:

        msg = MIMEMultipart("alternative")
        msg.attach(text)
        msg.attach(MIMEText(body_html + f'<p style="color:#888;font-size:12px">If you would rather not hear from '
                                        f'me again, <a href="{escape(unsubscribe_url)}">unsubscribe</a>.</p>',
                            "html", _QP_UTF8))
    else:
        msg = text
    msg["From"] = formataddr((from_name, from_email), charset="utf-8") if from_name else from_email
    msg["To"] = formataddr((to_name, to_email), charset="utf-8") if to_name else to_email
    msg["Subject"] = _header(subject)
    msg["Date"] = format_datetime(date)  # type: ignore[arg-type]
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references.split())
    if is_one_click(unsubscribe_url):
        msg["List-Unsubscribe"] = f"<{unsubscribe_mailto}>, <{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    else:
        msg["List-Unsubscribe"] = f"<{unsubscribe_mailto}>"
    return msg


def is_one_click(unsubscribe_url: str) -> bool:
    """Whether emails may offer RFC 8058 one-click unsubscribe with this URL (it must be https)."""
    return unsubscribe_url.lower().startswith("https://")


def as_bytes(msg: Message) -> bytes:
    """The wire form: CRLF line ends, headers unfolded up to the RFC 5322 limit of 998 characters."""
    return msg.as_bytes(policy=_WIRE)


_WIRE = compat32.clone(linesep="\r\n", max_line_length=998)
_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP
