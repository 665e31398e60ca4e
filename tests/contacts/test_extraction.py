"""Address extraction from HTML: sources, obfuscations, decoys; precision and recall over a case set."""
from __future__ import annotations

import pytest

from outreach.contacts.extraction import decode_cfemail, extract_contacts
from outreach.contacts.guessing import detect_pattern, guess_addresses


def cf(address: str, key: int = 0x42) -> str:
    """Cloudflare's encoding of an address (what its email protection puts in data-cfemail)."""
    return f"{key:02x}" + "".join(f"{ord(c) ^ key:02x}" for c in address)


PAGE = "https://www.site.test/contact"

#: (html, addresses that must be found); everything else on the page is a decoy
CASES: list[tuple[str, set[str]]] = [
    ('<a href="mailto:Editor@Site.test?subject=Pitch">Email the editor</a>', {"editor@site.test"}),
    ("<p>Write to jane.roe@site.test, or call.</p>", {"jane.roe@site.test"}),
    ("<p>pitches [at] site [dot] test</p>", {"pitches@site.test"}),
    ("<p>bob (at) site (dot) test</p><p>carol{at}site{dot}test</p>", {"bob@site.test", "carol@site.test"}),
    ("<p>Reach dave at site dot test any time.</p>", {"dave@site.test"}),
    (f'<a class="__cf_email__" data-cfemail="{cf("hello@site.test")}">[email protected]</a>',
     {"hello@site.test"}),
    (f'<a href="/cdn-cgi/l/email-protection#{cf("sales@site.test", 0x7a)}">mail us</a>', {"sales@site.test"}),
    ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Organization",'
     '"email": "mailto:press@site.test", "employee": [{"@type": "Person", "name": "Ann Lee",'
     '"email": "ann.lee@site.test"}]}</script>', {"press@site.test", "ann.lee@site.test"}),
    ("<p>Jo&#64;site&#46;test</p>", {"jo@site.test"}),
    # decoys only
    ('<img src="/img/logo@2x.png" alt="logo@2x.png"><p>icon@3x.webp and sprite@2x.jpg</p>', set()),
    ("<p>Use you@example.com or name@yourdomain.com in the form.</p>", set()),
    ("<p>Our host: support@hostingcompany.test; our friend sam@elsewhere.test</p>", set()),
    ("<p>noreply@site.test sends the newsletter.</p>", set()),
    ("<script>var contact = 'hidden@site.test';</script><style>.a{}</style>", set()),
    ("<p>We met at home dot com era parties.</p>", set()),
    ('<script type="application/ld+json">{not json</script>', set()),
]


@pytest.mark.parametrize(("html", "expected"), CASES)
def test_it_finds_exactly_the_sites_addresses(html: str, expected: set[str]) -> None:
    found = extract_contacts(f"<html><body>{html}</body></html>", PAGE)
    assert {a.email for a in found.addresses} == expected


def test_precision_and_recall_over_the_case_set() -> None:
    tp = fp = fn = 0
    for html, expected in CASES:
        got = {a.email for a in extract_contacts(f"<html><body>{html}</body></html>", PAGE).addresses}
        tp += len(got & expected)
        fp += len(got - expected)
        fn += len(expected - got)
    assert tp / (tp + fp) == 1.0
    assert tp / (tp + fn) == 1.0


def test_it_says_why_it_ignored_an_address() -> None:
    html = "<p>logo@2x.png you@example.com sam@elsewhere.test noreply@site.test</p>"
    ignored = dict(extract_contacts(html, PAGE).ignored)
    assert ignored == {"logo@2x.png": "a file name, not an address", "you@example.com": "placeholder domain",
                       "sam@elsewhere.test": "on another domain than site.test",
                       "noreply@site.test": "no-reply address"}


def test_another_domain_counts_when_explicitly_allowed() -> None:
    found = extract_contacts("<p>desk@sister-paper.test</p>", PAGE, allow_domains=["sister-paper.test"])
    assert [a.email for a in found.addresses] == ["desk@sister-paper.test"]


def test_a_mailto_beats_a_text_match_and_keeps_the_name() -> None:
    html = '<p>ann.lee@site.test</p><a href="mailto:ann.lee@site.test">Ann Lee</a>'
    (address,) = extract_contacts(html, PAGE).addresses
    assert (address.source, address.name, sorted(address.sources)) == ("mailto", "Ann Lee", ["mailto", "text"])


def test_role_addresses_are_flagged() -> None:
    found = {a.email: a.is_role for a in extract_contacts(
        "<p>info@site.test editor@site.test jane.roe@site.test</p>", PAGE).addresses}
    assert found == {"info@site.test": True, "editor@site.test": True, "jane.roe@site.test": False}


def test_people_named_on_the_page_are_collected_for_guessing() -> None:
    html = ('<head><meta name="author" content="Maria Gomez"></head><body><a rel="author" href="/u/1">Tom Baker</a>'
            '<script type="application/ld+json">{"@type": "BlogPosting", "author": {"@type": "Person", '
            '"name": "Priya Shah"}}</script></body>')
    assert sorted(extract_contacts(html, PAGE).people) == ["Maria Gomez", "Priya Shah", "Tom Baker"]


def test_on_an_ip_address_host_there_is_no_domain_to_compare() -> None:
    found = extract_contacts("<p>hello@site.test</p>", "http://127.0.0.9:8000/")
    assert [a.email for a in found.addresses] == ["hello@site.test"]


def test_cloudflare_decoding_rejects_garbage() -> None:
    assert decode_cfemail(cf("a@b.test")) == "a@b.test"
    assert decode_cfemail("zz") is None
    assert decode_cfemail("42") is None


def test_guesses_follow_the_sites_own_pattern() -> None:
    known = [("Ann Lee", "ann.lee@site.test")]
    assert detect_pattern(known, "site.test") == "{first}.{last}"
    (guess,) = guess_addresses("Tom Baker", "site.test", known)
    assert (guess.email, guess.basis) == ("tom.baker@site.test", "pattern seen on this site")
    known = [("Ann Lee", "alee@site.test")]
    assert guess_addresses("Tom Baker", "site.test", known)[0].email == "tbaker@site.test"


def test_without_a_known_pattern_it_offers_common_ones_and_never_guesses_single_names() -> None:
    assert [g.email for g in guess_addresses("José Núñez", "site.test")] == [
        "jose.nunez@site.test", "jose@site.test", "jnunez@site.test"]
    assert guess_addresses("Madonna", "site.test") == []


#: (html, address, the name that must be captured for it: "" when none may be)
NAMED: list[tuple[str, str, str]] = [
    ('<a href="mailto:jane@site.test">Jane Doe</a>', "jane@site.test", "Jane Doe"),
    ('<a href="mailto:editor@site.test">Email Jane Doe</a>', "editor@site.test", "Jane Doe"),
    ('<a href="mailto:hello@site.test">Contact us</a>', "hello@site.test", ""),
    ('<a href="mailto:hello@site.test">Email</a>', "hello@site.test", ""),
    ('<a href="mailto:hello@widgetweekly.test">Widget Weekly</a>', "hello@widgetweekly.test", ""),
    ("<p>Editor: Jane Doe – jane@site.test</p>", "jane@site.test", "Jane Doe"),
    ("<p>Editor: Jane Doe – editor@site.test</p>", "editor@site.test", "Jane Doe"),
    ("<p>Jane Doe &lt;jane@site.test&gt;</p>", "jane@site.test", "Jane Doe"),
    ("<p>Write to pitches [at] site [dot] test (Anna de la Cruz)</p>", "pitches@site.test", "Anna de la Cruz"),
    ('<ul><li><strong>Jane Doe</strong>, Managing Editor: <a href="mailto:editor@site.test">editor@site.test</a>'
     "</li><li>Questions? info@site.test</li></ul>", "info@site.test", ""),
    ("<table><tr><td>Tom Baker</td><td>Ads</td><td>tbaker@site.test</td></tr></table>", "tbaker@site.test",
     "Tom Baker"),
    ('<div class="card"><h3>Pat Smith</h3><p><a href="mailto:pat@site.test">pat@site.test</a></p></div>',
     "pat@site.test", "Pat Smith"),
    ("<p>Tom Baker writes about widgets. Reach him at tb@site.test</p>", "tb@site.test", "Tom Baker"),
    # a heading beside a team's address is the site, not a person
    ("<div><h3>Garden Gazette</h3><p>Contact: hello@site.test</p></div>", "hello@site.test", ""),
    ("<p>Copyright Widget Weekly. All rights reserved. Email: info@site.test</p>", "info@site.test", ""),
    ("<p>Send Your Guest Post Ideas To pitches@site.test</p>", "pitches@site.test", ""),
    ("<li>New York Office: ny@site.test</li>", "ny@site.test", ""),
    ("<p>London: +44 20 7946 0000, london@site.test</p>", "london@site.test", ""),
    ('<a href="mailto:sarah@site.test">Sarah</a>', "sarah@site.test", "Sarah"),
    # two people, two addresses: each keeps its own
    ("<p>Jane Doe: jane@site.test, Tom Baker: tom@site.test</p>", "tom@site.test", "Tom Baker"),
]


@pytest.mark.parametrize(("html", "email", "name"), NAMED)
def test_it_takes_the_name_from_a_mailto_text_or_beside_the_address_and_nothing_else(
        html: str, email: str, name: str) -> None:
    page = extract_contacts(f"<html><body>{html}</body></html>", PAGE, allow_domains=["widgetweekly.test"])
    assert {a.email: a.name for a in page.addresses}[email] == name
