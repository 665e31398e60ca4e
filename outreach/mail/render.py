"""User-written templates, rendered only in Jinja's sandbox with a time and a size limit.

Hardening on top of `ImmutableSandboxedEnvironment` (no attribute of a private name, no mutation):
- no macros, imports, includes, extends or namespaces, so no recursion and nothing accumulates;
- `*`, `**`, `+` and `~` are checked so that a value can never grow past MAX_VALUE;
- the methods and filters that pad or repeat text are refused or checked;
- a tracer on the template's own frames enforces the time limit and the size of every local;
- the output is streamed and stops at MAX_OUTPUT characters.
A variable that is undefined or empty is an error that names it, so nothing goes out half-filled.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from outreach.mail.headers import HeaderError, check_header

MAX_SOURCE = 20_000
MAX_VALUE = 100_000
MAX_OUTPUT = 200_000
TIME_LIMIT = 1.0

#: documented on the templates page, with an example each: (variable, what it holds, example).
#: `name[].field` is a field of each item of the list `name` (`{% for link in opportunity.broken_links %}`).
VARIABLES: list[tuple[str, str, str]] = [
    ("contact.first_name", "first word of the contact's name", "Jane"),
    ("contact.name", "the contact's full name", "Jane Doe"),
    ("contact.email", "the contact's address", "jane@example.com"),
    ("site.domain", "the prospect's registrable domain", "example.com"),
    ("prospect.page_url", "the page on their site this email is about", "https://example.com/resources"),
    ("opportunity.kind", "broken_link, guest_post, image_mention or brand_mention", "broken_link"),
    ("opportunity.page_url", "the page where the opportunity was found", "https://example.com/resources"),
    ("opportunity.broken_url", "broken links: the dead URL linked from the most of their pages",
     "https://gone.example/guide"),
    ("opportunity.anchor", "broken links: the anchor text of that dead link", "the complete guide"),
    ("opportunity.linking_page", "broken links: their page that links to it", "https://example.com/resources"),
    ("opportunity.wayback_url", "broken links: the Wayback Machine's captures of the dead URL",
     "https://web.archive.org/web/*/https://gone.example/guide"),
    ("opportunity.broken_links", "broken links: every dead link on their site (a list, for a loop)", ""),
    ("opportunity.broken_links[].url", "each dead URL", "https://gone.example/guide"),
    ("opportunity.broken_links[].anchor", "its anchor text", "the complete guide"),
    ("opportunity.broken_links[].page_url", "their page that links to it", "https://example.com/resources"),
    ("opportunity.broken_links[].status", "what the dead URL answers", "HTTP 404"),
    ("opportunity.broken_links[].wayback_url", "its Wayback Machine captures",
     "https://web.archive.org/web/*/https://gone.example/guide"),
    ("opportunity.guidelines_url", "guest posts: their guidelines page", "https://example.com/write-for-us"),
    ("opportunity.submission_email", "guest posts: the address the guidelines give", "editor@example.com"),
    ("opportunity.form_url", "guest posts: the submission form the guidelines link to",
     "https://example.com/submit"),
    ("opportunity.requirements", "guest posts: what the guidelines ask for", "word count: 1,500 words"),
    ("opportunity.mention_page", "mentions: the page that uses the image or names the brand",
     "https://example.com/blog/post"),
    ("opportunity.image_url", "image mentions: the matched copy of the client's image",
     "https://example.com/img/infographic.png"),
    ("opportunity.mention_text", "brand mentions: the sentence naming the brand", "We love Acme's widgets."),
    ("campaign.name", "the campaign's name", "Resource pages Q1"),
    ("client.name", "the client's name", "Acme"),
    ("client.website", "the client's website", "https://acme.example"),
    ("target_url", "the campaign's first target URL (the page you pitch)", "https://acme.example/guide"),
    ("sender.name", "the mailbox's sender name", "Sam"),
    ("sender.email", "the mailbox's address", "sam@agency.example"),
    ("unsubscribe_url", "this recipient's unsubscribe link (also added below every email)",
     "https://outreach.example/u/…"),
    ("backlink.page_url", "reclaim emails only: the page where the lost link was", "https://example.com/resources"),
    ("backlink.target_url", "reclaim emails only: the client's page it linked to", "https://acme.example/guide"),
    ("backlink.anchor", "reclaim emails only: the agreed (or last seen) anchor text", "Acme guide"),
    ("backlink.lost_reason", "reclaim emails only: why the link was lost, in plain words",
     "the page is gone (HTTP 404)"),
]

_REFUSED_NODES = (nodes.Macro, nodes.CallBlock, nodes.Import, nodes.FromImport, nodes.Include,
                  nodes.Extends, nodes.NSRef, nodes.Block)
_REFUSED_STR_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map",
                        "encode", "translate", "maketrans"}


class RenderError(ValueError):
    """A template that cannot be rendered for a prospect; the message names it and the variable."""

    def __init__(self, message: str, variable: str | None = None, *, line: int | None = None,
                 suggestion: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable
        #: the line of the template at fault, and a known variable close to a misspelt one (save-time checks)
        self.line = line
        self.suggestion = suggestion


class Var(str):
    """A context value that remembers its name, so an empty one can be reported by name."""

    path: str

    def __new__(cls, value: str, path: str) -> Var:
        obj = super().__new__(cls, value)
        obj.path = path
        return obj


class Namespace(dict[str, Any]):
    """A group of variables (contact, site...) that knows its name for error messages."""

    path: str = ""


class _Undefined(StrictUndefined):
    @property
    def _undefined_message(self) -> str:
        if isinstance(self._undefined_obj, Namespace):
            return f"'{self._undefined_obj.path}.{self._undefined_name}' is not a known variable"
        return super()._undefined_message


class _EmptyVariable(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class _TooBig(SecurityError):
    pass


class _TimeUp(SecurityError):
    pass


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_VALUE:
        raise _TooBig(f"a value grew past {MAX_VALUE:,} characters")
    return value


class _CheckedConcat(CodeGenerator):
    """Compile `a ~ b` to a size-checked join."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 (Jinja's visitor name)
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+"})
    code_generator_class = _CheckedConcat

    def __init__(self, autoescape: bool) -> None:
        super().__init__(undefined=_Undefined, autoescape=autoescape, finalize=_finalize,
                         keep_trailing_newline=True)
        self.globals.pop("namespace", None)
        self.globals.pop("cycler", None)
        self.globals.pop("joiner", None)
        self.globals["range"] = _small_range
        for name in ("center", "indent", "wordwrap", "format", "replace", "join", "sum", "batch", "urlize",
                     "pprint", "tojson", "xmlattr", "filesizeformat"):
            original = self.filters.get(name)
            if original is not None:
                self.filters[name] = _checked(original)

    def checked_concat(self, values: tuple[Any, ...]) -> str:
        joined = markup_join(values) if any(isinstance(v, Markup) for v in values) else str_join(values)
        return _check_size(joined)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise _TooBig("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > MAX_VALUE:
                    raise _TooBig(f"a value grew past {MAX_VALUE:,} characters")
        return _check_size(super().call_binop(context, operator, left, right))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _REFUSED_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)


def _checked(filter_func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _check_size(filter_func(*args, **kwargs))

    for attr in ("jinja_pass_arg",):
        if hasattr(filter_func, attr):
            setattr(wrapper, attr, getattr(filter_func, attr))
    return wrapper


def _small_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > 1000:
        raise _TooBig("range() is limited to 1,000 items in templates")
    return rng


def _finalize(value: Any) -> Any:
    if value is None:
        raise _EmptyVariable("a variable")
    if isinstance(value, Var) and not value.strip():
        raise _EmptyVariable(value.path)
    return value


_TEXT_ENV = _Sandbox(autoescape=False)
_HTML_ENV = _Sandbox(autoescape=True)


def _refuse_unsafe_syntax(env: _Sandbox, source: str, what: str) -> None:
    if len(source) > MAX_SOURCE:
        raise RenderError(f"the {what} is longer than {MAX_SOURCE:,} characters")
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"the {what} has a syntax error on line {exc.lineno}: {exc.message}",
                          line=exc.lineno) from None
    for node in tree.find_all(_REFUSED_NODES):
        kind = type(node).__name__.lower()
        raise RenderError(f"the {what} uses {{% {kind} %}}, which templates may not use")


def check_syntax(subject: str, body_text: str, body_html: str = "") -> None:
    """RenderError if a template cannot even be compiled (checked when it is saved)."""
    for env, source, what in ((_TEXT_ENV, subject, "subject"), (_TEXT_ENV, body_text, "plain-text body"),
                              (_HTML_ENV, body_html, "HTML body")):
        _refuse_unsafe_syntax(env, source, what)
        env.from_string(source)


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool, what: str) -> Template:
    env = _HTML_ENV if html else _TEXT_ENV
    _refuse_unsafe_syntax(env, source, what)
    return env.from_string(source)


def render_one(source: str, context: dict[str, Any], *, what: str = "template", html: bool = False,
               time_limit: float = TIME_LIMIT) -> str:
    """Render one template string in the sandbox; RenderError names what failed."""
    template = _compiled(source, html, what)
    deadline = time.monotonic() + time_limit
    previous = sys.gettrace()
    #: the compiled template's module: every frame of the template's own code runs with these globals
    own_globals = template.root_render_func.__globals__

    def local(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise _TimeUp("time")
        for value in frame.f_locals.values():
            _check_size(value)
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        # only the template's own frames are watched: the limit must never fire inside other code that
        # happens to run meanwhile (a garbage-collection callback, a finalizer), where the exception
        # would be swallowed or break that code; the next line of the template sees the time instead
        return local if frame.f_globals is own_globals else None

    chunks: list[str] = []
    size = 0
    generator = template.generate(context)
    sys.settrace(tracer)
    try:
        for chunk in generator:
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderError(f"the {what} renders to more than {MAX_OUTPUT:,} characters")
            chunks.append(chunk)
    except _EmptyVariable as exc:
        raise RenderError(f"{exc.path} is empty in the {what}", variable=exc.path) from None
    except UndefinedError as exc:
        raise RenderError(f"{exc.message} in the {what}", variable=_undefined_name(exc.message)) from None
    except _TimeUp:
        raise RenderError(f"the {what} took longer than {time_limit:g} s to render") from None
    except SecurityError as exc:
        raise RenderError(f"the {what} is not allowed: {exc}") from None
    except RenderError:
        raise
    except Exception as exc:  # a user's template can raise anything (ZeroDivisionError, TypeError...)
        raise RenderError(f"the {what} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.settrace(previous)
        generator.close()  # now, untraced: not later in some other render's finalizer pass
    return "".join(chunks)


def _undefined_name(message: str | None) -> str | None:
    if message and "'" in message:
        return message.split("'")[-2] if message.count("'") >= 2 else None
    return None


@dataclass
class Rendered:
    subject: str
    body_text: str
    body_html: str


def render_email(subject: str, body_text: str, body_html: str, context: dict[str, Any]) -> Rendered:
    """Subject and both bodies; the subject must be one non-empty line."""
    rendered_subject = render_one(subject, context, what="subject").strip()
    if not rendered_subject:
        raise RenderError("the subject renders empty")
    try:
        check_header("the subject", rendered_subject)
    except HeaderError as exc:
        raise RenderError(str(exc)) from None
    text = render_one(body_text, context, what="plain-text body")
    html = render_one(body_html, context, what="HTML body", html=True) if body_html.strip() else ""
    return Rendered(rendered_subject, text, html)


def wrap(values: dict[str, Any], prefix: str = "") -> Namespace:
    """Turn a nested dict of plain values into one of named Vars."""
    out = Namespace()
    out.path = prefix.rstrip(".")
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out[key] = wrap(value, path + ".")
        elif value is None:
            out[key] = Var("", path)
        elif isinstance(value, str):
            out[key] = Var(value, path)
        elif isinstance(value, list):
            out[key] = [wrap(item, f"{path}[{i}].") if isinstance(item, dict) else item
                        for i, item in enumerate(value)]
        else:
            out[key] = value
    return out
