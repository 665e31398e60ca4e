"""Trying a mailbox's accounts: SMTP login, then IMAP login with its INBOX and Sent folder (web page and API)."""
from __future__ import annotations

from dataclasses import dataclass

from outreach.lib.secrets import SecretBox
from outreach.mail import imap, smtp
from outreach.mail.mailboxes import imap_password, smtp_account
from outreach.models.mail import Mailbox

#: the longest a connection test waits for a server, whatever the sending timeouts say
TEST_TIMEOUT = 15.0


@dataclass(frozen=True)
class ConnectionCheck:
    """What one protocol answered: ok True (worked), False (failed) or None (not configured); one line."""

    protocol: str  # "smtp" | "imap"
    ok: bool | None
    message: str


def check_mailbox(mailbox: Mailbox, box: SecretBox, timeout: float) -> list[ConnectionCheck]:
    """Log in over SMTP, then over IMAP (when configured) and open INBOX and the Sent folder."""
    timeout = min(TEST_TIMEOUT, timeout)
    checks = []
    try:
        checks.append(ConnectionCheck("smtp", True, smtp.test_connection(smtp_account(mailbox, box, timeout))))
    except (smtp.SmtpConnectError, ValueError) as exc:
        checks.append(ConnectionCheck("smtp", False, f"SMTP failed: {exc}"))
    if not mailbox.has_imap:
        checks.append(ConnectionCheck("imap", None, "No IMAP account: replies and bounces will not be read, so "
                                                    "sequences will not stop by themselves."))
        return checks
    try:
        conn = imap.connect(mailbox.imap_host, mailbox.imap_port, mailbox.imap_security, mailbox.imap_username,
                            imap_password(mailbox, box), timeout)
        try:
            checks.append(ConnectionCheck("imap", True, imap.test_connection(conn, mailbox.imap_sent_folder)))
        finally:
            imap.logout(conn)
    except (imap.ImapError, ValueError, OSError) as exc:
        checks.append(ConnectionCheck("imap", False, f"IMAP failed: {exc}"))
    return checks
