"""IMAP, the client side: connect, and find, add or remove our messages in a folder (no domain rules here:
outreach.mail.inbound reads INBOX, outreach.mail.sent_copy keeps the Sent folder)."""
from __future__ import annotations

import contextlib
import imaplib
import ssl
import time
from typing import Any


class ImapError(OSError):
    """Could not connect, log in or read; one line."""


def connect(host: str, port: int, security: str, username: str, password: str, timeout: float) -> imaplib.IMAP4:
    try:
        if security == "ssl":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(),
                                                    timeout=timeout)
        else:
            conn = imaplib.IMAP4(host, port, timeout=timeout)
            if security == "starttls":
                conn.starttls(ssl_context=ssl.create_default_context())
        conn.login(username, password)
        return conn
    except (imaplib.IMAP4.error, OSError) as exc:
        raise ImapError(f"IMAP {host}:{port}: {exc or type(exc).__name__}") from None


def test_connection(conn: imaplib.IMAP4, sent_folder: str) -> str:
    typ, data = conn.select(quote(sent_folder), readonly=True)
    if typ != "OK":
        raise ImapError(f"the Sent folder {sent_folder!r} cannot be opened: {answer_text(data)}")
    typ, data = conn.select("INBOX", readonly=True)
    if typ != "OK":
        raise ImapError(f"INBOX cannot be opened: {answer_text(data)}")
    return f"IMAP login worked; INBOX has {int(data[0] or 0)} messages and {sent_folder!r} exists"


def logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        conn.logout()


def quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def answer_text(data: Any) -> str:
    if data and isinstance(data[0], bytes):
        return data[0].decode("utf-8", "replace")[:200]
    return str(data)[:200]


def in_folder(conn: imaplib.IMAP4, folder: str, message_ids: list[str]) -> set[str]:
    """Which of these Message-IDs are in the folder."""
    if not message_ids:
        return set()
    typ, data = conn.select(quote(folder), readonly=True)
    if typ != "OK":
        raise ImapError(f"the folder {folder!r} cannot be opened: {answer_text(data)}")
    return {mid for mid in message_ids if find(conn, mid)}


def find(conn: imaplib.IMAP4, message_id: str) -> list[bytes]:
    """UIDs of the messages with this Message-ID in the selected folder."""
    typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", f'"<{message_id}>"')  # type: ignore[arg-type]
    return data[0].split() if typ == "OK" and data and data[0] else []


def append(conn: imaplib.IMAP4, folder: str, raw: bytes) -> None:
    """Add a message to the folder, marked as seen (ImapError when the server refuses)."""
    typ, data = conn.append(quote(folder), r"(\Seen)", imaplib.Time2Internaldate(time.time()), raw)
    if typ != "OK":
        raise ImapError(f"cannot add to {folder!r}: {answer_text(data)}")


def move(conn: imaplib.IMAP4, uids: list[int], source: str, folder: str) -> None:
    """Move these messages from `source` to `folder` (UID MOVE, else copy, flag \\Deleted and UID EXPUNGE them)."""
    if not uids:
        return
    typ, data = conn.select(quote(source))
    if typ != "OK":
        raise ImapError(f"the folder {source!r} cannot be opened: {answer_text(data)}")
    joined = ",".join(str(uid) for uid in uids)
    _typ, caps = conn.capability()  # asked again: many servers list MOVE and UIDPLUS only after the login
    capabilities = (caps[0] or b"").upper().split()
    if b"MOVE" in capabilities:
        typ, data = conn.uid("MOVE", joined, quote(folder))
    else:
        typ, data = conn.uid("COPY", joined, quote(folder))
        if typ == "OK":
            conn.uid("STORE", joined, "+FLAGS.SILENT", r"(\Deleted)")
            if b"UIDPLUS" in capabilities:
                conn.uid("EXPUNGE", joined)
    if typ != "OK":
        raise ImapError(f"cannot move messages to {folder!r}: {answer_text(data)}")
