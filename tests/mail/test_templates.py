"""The template sandbox: known SSTI payloads and fuzzed input never escape, never inject headers."""
from __future__ import annotations

import email
import gc
import sys
from datetime import UTC, datetime
from email.policy import default as default_policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.mail import render as render_module
from outreach.mail.headers import FORBIDDEN, HeaderError
from outreach.mail.render import RenderError, render_email, render_one, wrap
from outreach.mail.smtp import build_message

CANARY_DIR = Path("/tmp")


def payloads(canary: Path) -> list[str]:
    cmd = f"touch {canary}"
    return [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__mro__[-1].__subclasses__()[132].__init__.__globals__['popen']('" + cmd + "').read() }}",
        "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('" + cmd + "').read() }}",
        "{{ cycler.__init__.__globals__.os.popen('" + cmd + "').read() }}",
        "{{ joiner.__init__.__globals__.os.popen('" + cmd + "').read() }}",
        "{{ namespace.__init__.__globals__.os.popen('" + cmd + "').read() }}",
        "{{ lipsum.__globals__['os'].popen('" + cmd + "').read() }}",
        "{{ config.__class__.__init__.__globals__['os'].popen('" + cmd + "') }}",
        "{{ request.application.__globals__.__builtins__.__import__('os').popen('" + cmd + "') }}",
        "{{ contact.__class__.__base__.__subclasses__() }}",
        "{{ contact.first_name.__class__.__mro__ }}",
        "{{ contact.items.__self__.__class__ }}",
        "{{ (contact|attr('__class__')) }}",
        "{{ contact|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "{{ 'abc'.format.__globals__ }}",
        "{{ '{0.__class__}'.format(contact) }}",
        "{{ '%s'|format(contact.__class__) }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{% set x = range.__globals__ %}{{ x }}",
        "{% import 'os' as os %}{{ os }}",
        "{% include '/etc/passwd' %}",
        "{% extends '/etc/passwd' %}",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "{{ 'x' * 100000000 }}",
        "{{ 9 ** 999999 }}",
        "{% for i in range(10**9) %}{% endfor %}",
        "{{ ('a' * 50000) ~ ('a' * 50000) ~ ('a' * 50000) }}",
        "{{ 'a'|center(999999999) }}",
        "{{ 'a'.ljust(999999999) }}",
    ]


def context() -> dict:
    return wrap({"contact": {"first_name": "Ann", "name": "Ann Lee", "email": "ann@site.test"},
                 "site": {"domain": "site.test"}, "sender": {"name": "Sam", "email": "sam@agency.test"}})


def test_known_ssti_payloads_fail_cleanly_and_never_run_code(tmp_path):
    canary = tmp_path / "canary"
    for payload in payloads(canary):
        for html in (False, True):
            try:
                output = render_one(payload, context(), html=html)
            except RenderError:
                continue
            assert "subclasses" not in output and "<class" not in output and "function" not in output, payload
            assert len(output) < 300_000
    assert not canary.exists()


def test_a_slow_template_is_stopped_by_the_time_limit():
    slow = "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}" \
           "{% endfor %}{% endfor %}"
    with pytest.raises(RenderError, match="took longer than"):
        render_one(slow, context(), time_limit=0.2)


def test_the_time_limit_fires_in_the_template_and_never_inside_other_code(monkeypatch):
    """A garbage-collection callback that runs during a render, late, is left alone; the template stops after it."""
    clock = [1000.0]
    monkeypatch.setattr(render_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    unraisable: list = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    finished: list[str] = []

    def helper() -> None:
        finished.append("helper")

    def late_callback(phase: str, info: dict) -> None:
        if phase == "start":
            clock[0] += 10  # the machine is busy: the deadline passes while the collector runs
            helper()        # a call in other code, after the deadline
            finished.append("callback")

    ctx = context()
    ctx["collect"] = gc.collect
    gc.callbacks.append(late_callback)
    try:
        with pytest.raises(RenderError, match="took longer than"):
            render_one("{{ collect() }}\n{{ contact.first_name }}\n", ctx, time_limit=1.0)
    finally:
        gc.callbacks.remove(late_callback)
    assert finished == ["helper", "callback"]
    assert not unraisable


def test_an_undefined_or_empty_variable_names_the_variable():
    with pytest.raises(RenderError) as undefined:
        render_one("Hi {{ contact.nickname }}", context())
    assert undefined.value.variable == "contact.nickname"
    empty = wrap({"contact": {"first_name": ""}})
    with pytest.raises(RenderError) as missing:
        render_one("Hi {{ contact.first_name }}", empty)
    assert missing.value.variable == "contact.first_name"
    assert render_one("Hi {{ contact.first_name or 'there' }}", empty) == "Hi there"


def test_html_bodies_escape_prospect_data():
    evil = wrap({"contact": {"first_name": "<script>alert(1)</script>"}})
    assert "<script>" not in render_one("<p>Hi {{ contact.first_name }}</p>", evil, html=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first_name=st.text(min_size=1, max_size=60), subject=st.text(max_size=80), body=st.text(max_size=300),
       ssti=st.sampled_from(payloads(CANARY_DIR / "outreach-fuzz-canary-never")))
def test_fuzzed_names_subjects_and_bodies_never_escape_or_inject_headers(first_name, subject, body, ssti):
    ctx = wrap({"contact": {"first_name": first_name, "name": first_name, "email": "ann@site.test"},
                "site": {"domain": "site.test"}})
    for template_subject, template_body in (
            (subject, body), ("Hi {{ contact.first_name }} " + subject, body + ssti), (ssti, body)):
        try:
            rendered = render_email(template_subject, template_body or "x", "", ctx)
        except RenderError:
            continue
        try:
            msg = build_message(message_id="m1@agency.test", from_email="sam@agency.test", from_name=first_name,
                                to_email="ann@site.test", to_name=first_name, subject=rendered.subject,
                                body_text=rendered.body_text, body_html="", in_reply_to="", references="",
                                unsubscribe_url="https://outreach.test/unsubscribe/t",
                                unsubscribe_mailto="mailto:sam@agency.test?subject=unsubscribe%20t",
                                date=datetime.now(UTC))
        except HeaderError:
            assert any(ch in FORBIDDEN for ch in first_name + rendered.subject)
            continue
        parsed = email.message_from_bytes(msg.as_bytes(), policy=default_policy)
        # exactly the headers we set: nothing smuggled in through a name or the subject
        assert sorted(set(parsed.keys())) == sorted({"From", "To", "Subject", "Date", "Message-ID",
                                                     "List-Unsubscribe", "List-Unsubscribe-Post", "Content-Type",
                                                     "Content-Transfer-Encoding", "MIME-Version"})
        assert parsed["To"].addresses[0].addr_spec == "ann@site.test"
    assert not (CANARY_DIR / "outreach-fuzz-canary-never").exists()


@pytest.mark.parametrize("value", ["Hello\r\nBcc: victim@site.test", "Hi\nthere", "nul\0byte", "cr\ronly"])
def test_a_line_break_in_a_header_is_refused_with_a_clear_error(value):
    with pytest.raises(HeaderError, match="not allowed in an email header"):
        build_message(message_id="m1@agency.test", from_email="sam@agency.test", from_name="Sam",
                      to_email="ann@site.test", to_name="Ann", subject=value, body_text="x", body_html="",
                      in_reply_to="", references="", unsubscribe_url="http://127.0.0.1/u/t",
                      unsubscribe_mailto="mailto:sam@agency.test", date=datetime.now(UTC))
    with pytest.raises(RenderError, match="not allowed in an email header"):
        render_email("{{ contact.first_name }}", "x", "", wrap({"contact": {"first_name": value}}))
