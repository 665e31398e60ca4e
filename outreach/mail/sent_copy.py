"""A copy of every sent message in the mailbox's Sent folder: the thread in the user's mail client, and the record
that decides a message whose outcome a crash left `unknown` (outreach.mail.outbox.reconcile_unknown).

Who files the copy is the mailbox's `sent_copy` setting. Most providers file what they accept themselves
("never": Outreach never adds one). Otherwise ("always") each message also goes to the mailbox's own address,
as an envelope-only recipient of the same SMTP transaction: the server delivers that copy if and only if it
accepted the message, and the next poll moves it from INBOX to the Sent folder (outreach.mail.inbound). A copy
appended over IMAP after the answer could not tell: the sender may die between the two. "auto" sends the
mailbox's first message the plain way, then looks for it in the folder: found, the server files; missing,
Outreach files from then on (and appends that first copy at once).

So after a crash a message with `Message.sent_copy` "server" or "outreach" is sent when its copy is in the
folder (or still in INBOX) and never left when it is not, once the grace period for a slow delivery is over.
A message without (no IMAP, the first send of an "auto" mailbox, a server that refused the extra recipient)
waits for a person.
"""
from __future__ import annotations

import imaplib
import logging
import time

from outreach.lib.secrets import SecretBox
from outreach.mail import imap
from outreach.mail.mailboxes import imap_password
from outreach.models.mail import Mailbox

log = logging.getLogger(__name__)

#: seconds to wait, one after the other, for the server to file the first message of an "auto" mailbox
DETECT_WAITS = (0.0, 0.5, 1.5)


def expected_by(mailbox: Mailbox) -> str:
    """Where this mailbox's next message will have its Sent copy: "server", "outreach" or "" (nobody knows yet)."""
    if not mailbox.has_imap:
        return ""
    if mailbox.sent_copy == "never":
        return "server"
    if mailbox.sent_copy == "always":
        return "outreach"
    if mailbox.server_files_sent is None:
        return ""
    return "server" if mailbox.server_files_sent else "outreach"


def needs_detection(mailbox: Mailbox) -> bool:
    """An "auto" mailbox with IMAP whose server was not yet seen filing (or not filing) a sent message."""
    return mailbox.has_imap and mailbox.sent_copy == "auto" and mailbox.server_files_sent is None


class SentFolders:
    """The IMAP connections of one send tick, one per mailbox, opened when first needed."""

    def __init__(self, secret_box: SecretBox, timeout: float) -> None:
        self.secret_box = secret_box
        self.timeout = timeout
        self.connections: dict[int, imaplib.IMAP4] = {}

    def _connection(self, mailbox: Mailbox) -> imaplib.IMAP4:
        conn = self.connections.get(mailbox.id)
        if conn is None:
            conn = imap.connect(mailbox.imap_host, mailbox.imap_port, mailbox.imap_security, mailbox.imap_username,
                                imap_password(mailbox, self.secret_box), self.timeout)
            self.connections[mailbox.id] = conn
        return conn

    def _drop(self, mailbox: Mailbox) -> None:
        conn = self.connections.pop(mailbox.id, None)
        if conn is not None:
            imap.logout(conn)

    def detect(self, mailbox: Mailbox, message_id: str, raw: bytes) -> bool | None:
        """After the first accepted message of an "auto" mailbox: whether the server filed it in Sent (if not,
        its copy is appended now); None when the folder could not be read (the next send tries again)."""
        try:
            conn = self._connection(mailbox)
            for wait in DETECT_WAITS:
                time.sleep(wait)
                if imap.in_folder(conn, mailbox.imap_sent_folder, [message_id]):
                    return True
            imap.append(conn, mailbox.imap_sent_folder, raw)
            return False
        except (imap.ImapError, imaplib.IMAP4.error, OSError, ValueError) as exc:
            self._drop(mailbox)
            log.warning("mailbox %s: cannot tell whether the server files sent mail: %s", mailbox.name, exc)
            return None

    def close(self) -> None:
        for conn in self.connections.values():
            imap.logout(conn)
        self.connections.clear()
