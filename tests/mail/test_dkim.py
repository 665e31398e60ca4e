"""DKIM signing: each message aiosmtpd receives verifies with dkimpy against the key the loopback DNS serves."""
from __future__ import annotations

import dataclasses
from typing import Any

import dkim
import dns.resolver
import pytest
import time_machine
from sqlalchemy.orm import Session

from outreach.mail.jobs import send_due
from outreach.mail.mailboxes import MailboxInput, MailError, save_mailbox
from outreach.models.mail import Mailbox
from tests.contacts.dnsserver import DNSServer
from tests.mail.dns_records import DOMAIN, healthy, new_private_key
from tests.mail.test_sending import MONDAY, enroll, fresh


def dns_lookup(server: DNSServer) -> Any:
    """dkimpy's dnsfunc, answered by the loopback DNS server."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], server.port

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return b""
        return b"".join(b"".join(r.strings) for r in answer)

    return lookup


def test_each_message_is_signed_over_from_subject_message_id_and_unsubscribe_headers(
        app: Any, db: Session, smtp_sink: Any, make_mailbox: Any, outreach_campaign: Any, job_context: Any) -> None:
    # the one-click header goes out only with an https base_url (RFC 8058)
    job_context = dataclasses.replace(job_context, settings=job_context.settings.with_(
        app={"base_url": "https://outreach.example"}))
    key = new_private_key()
    mailbox = make_mailbox(smtp_sink, dkim_selector="s1", dkim_private_key=key)
    assert mailbox.dkim_private_key and key not in mailbox.dkim_private_key  # stored encrypted
    campaign, prospects = outreach_campaign(mailbox, n=2)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 2
    with DNSServer(healthy(private_key=key)) as server:
        for received in smtp_sink.received:
            assert dkim.verify(received.data, dnsfunc=dns_lookup(server)), received.data[:600]
            tags = dict(t.strip().split("=", 1) for t in
                        " ".join(received.message["DKIM-Signature"].split()).split(";") if "=" in t)
            assert tags["d"] == DOMAIN and tags["s"] == "s1"
            signed = {h.strip().lower() for h in tags["h"].split(":")}
            assert {"from", "subject", "message-id", "list-unsubscribe", "list-unsubscribe-post"} <= signed
        tampered = smtp_sink.received[0].data.replace(b"Subject: Hello", b"Subject: Hallo")
        assert not dkim.verify(tampered, dnsfunc=dns_lookup(server))
    with DNSServer(healthy(private_key=new_private_key())) as stale:  # another key published: no match
        assert dns_lookup(stale)(f"s1._domainkey.{DOMAIN}".encode()).startswith(b"v=DKIM1")
        assert not dkim.verify(smtp_sink.received[0].data, dnsfunc=dns_lookup(stale))


def test_a_mailbox_without_a_key_sends_unsigned(app: Any, db: Session, smtp_sink: Any, make_mailbox: Any,
                                                outreach_campaign: Any, job_context: Any) -> None:
    campaign, prospects = outreach_campaign(make_mailbox(smtp_sink, dkim_selector="s1"), n=1)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 1
    assert smtp_sink.received[0].message["DKIM-Signature"] is None


def base_input(**changes: Any) -> MailboxInput:
    values: dict[str, Any] = dict(name="Signed", from_name="", from_email=f"sam@{DOMAIN}", smtp_host="127.0.0.1",
                                  smtp_port=2525, smtp_security="none", smtp_username="", smtp_password="")
    values.update(changes)
    return MailboxInput(**values)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"dkim_selector": "s1", "dkim_private_key": "not a key"}, "dkim_private_key", "not an unencrypted PEM"),
    ({"dkim_selector": "", "dkim_private_key": "KEY"}, "dkim_selector", "needs its selector"),
    ({"dkim_selector": "bad selector", "dkim_private_key": ""}, "dkim_selector", "letters, digits"),
])
def test_a_bad_key_or_selector_is_refused_with_its_field(app: Any, db: Session, changes: dict[str, str], field: str,
                                                         message: str) -> None:
    if changes["dkim_private_key"] == "KEY":
        changes = {**changes, "dkim_private_key": new_private_key()}
    with pytest.raises(MailError, match=message) as caught:
        save_mailbox(db, app.extensions["outreach"].secret_box, base_input(**changes))
    assert caught.value.field == field


def test_the_key_is_kept_when_left_empty_and_removed_with_a_dash(app: Any, db: Session, team: Any,
                                                                  login: Any) -> None:
    box = app.extensions["outreach"].secret_box
    mailbox = save_mailbox(db, box, base_input(dkim_selector="s1", dkim_private_key=new_private_key()))
    db.commit()
    page = login(team["owner"]).get(f"/mail/mailboxes/{mailbox.id}").get_data(as_text=True)
    assert "BEGIN PRIVATE KEY" not in page and mailbox.dkim_private_key not in page
    assert 's1._domainkey.agency.test. TXT &#34;v=DKIM1; k=rsa; p=MII' in page
    save_mailbox(db, box, base_input(dkim_selector="s1"), mailbox)
    db.commit()
    assert db.get(Mailbox, mailbox.id).dkim_private_key
    save_mailbox(db, box, base_input(dkim_selector="s1", dkim_private_key="-"), mailbox)
    db.commit()
    fresh(db)
    assert db.get(Mailbox, mailbox.id).dkim_private_key == ""
