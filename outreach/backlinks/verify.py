"""Verification: does a page link to the target, and how much is that link worth?

One page is fetched with the guarded fetcher and parsed with the shared HTML parser; the matching
links (exact target, or any URL on the target's site) are reported with their anchor and rel, plus
what decides whether the link counts: page-level nofollow, meta robots / googlebot, X-Robots-Tag,
robots.txt (for Googlebot and for our own agent), a canonical pointing elsewhere, a redirect to the
home page and an anchor that is not the agreed one. With rendering on, the page is also opened in
headless Chromium and the DOM after JavaScript is searched too; the result says which DOM found it.

A page named by the user is fetched even when robots.txt disallows our agent (as a browser would
open it for them): robots.txt is reported as a problem, not obeyed, because it is part of what the
check must tell. Crawls (page discovery) do obey it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from outreach.backlinks.evidence import WEAK_RELS, CheckResult, FoundLink
from outreach.config import Settings
from outreach.lib.aio import run_sync
from outreach.lib.html import TOO_COMPLEX, ParsedPage, ParseLimits, TooComplex, decode_page, off_loop, parse_page
from outreach.lib.http import Fetcher, FetchResult, FetchSettings
from outreach.lib.urls import BadURL, link_key, normalize_url, registrable_domain, split_tracking

GOOGLEBOT = "Googlebot"
T = TypeVar("T")
#: HTTP answers that say "try again later": a check that gets one is an error, not a missing link
TRANSIENT_STATUSES = (408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524)
_NOSCRIPT = re.compile(r"<noscript\b[^>]*>(.*?)</noscript\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TYPES = ("", "text/html", "application/xhtml+xml", "text/plain")
#: where the host name at the start of a link_key ends
_KEY_HOST_END = re.compile(r"[:/?]")


def target_matcher(target: str, match_mode: str = "exact") -> Callable[[str], bool]:
    """A predicate on normalised hrefs: the target itself (as link_key compares URLs), or (site mode) any URL on the
    target's site."""
    if match_mode == "site":
        domain = registrable_domain(target)

        def on_site(href: str) -> bool:
            try:
                return registrable_domain(href) == domain
            except BadURL:
                return False

        return on_site
    wanted = link_key(target)
    # hrefs come normalised (lower-case host), so a link to another host is ruled out without parsing it
    host = wanted[:wanted.find("]") + 1] if wanted.startswith("[") else _KEY_HOST_END.split(wanted, maxsplit=1)[0]
    return lambda href: host in href and link_key(href) == wanted


def _tracking(url: str) -> list[str]:
    try:
        query = urlsplit(normalize_url(url)).query
    except (BadURL, ValueError):
        return []
    return sorted(split_tracking(query)[1])


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _robots_header(value: str) -> list[str]:
    """Directives of X-Robots-Tag that apply to every crawler or to Googlebot."""
    tokens: list[str] = []
    for part in value.split(","):
        part = part.strip().lower()
        if ":" in part:
            agent, _, directive = part.partition(":")
            if agent.strip() not in ("googlebot", "*") and directive.strip() and " " not in agent.strip():
                # "otherbot: noindex" applies to another crawler only ("unavailable_after: ..." has a space-free
                # agent too, but its value is a date, which is not a directive we use)
                continue
            part = directive.strip() if agent.strip() in ("googlebot", "*") else part
        if part:
            tokens.append(part)
    return tokens


def read_page(fetched: FetchResult, limits: ParseLimits | None = None) -> tuple[str, str, ParsedPage]:
    """(text, encoding, links and meta) of a fetched page, its links resolved as a browser resolves them;
    TooComplex past the limits."""
    html, encoding = decode_page(fetched.body, fetched.headers.get("content-type"))
    return html, encoding, parse_page(html, fetched.final_url, with_text=False, encoding=encoding, limits=limits)


def analyse(fetched: FetchResult, target: str, *, match_mode: str = "exact", anchor: str | None = None,
            rendered_html: str | None = None, render_error: str | None = None,
            limits: ParseLimits | None = None) -> CheckResult:
    """Everything a check can say from one fetch (and, optionally, the rendered DOM).

    A page that cannot be read whole gives no verdict on a link it does not show: past the parse limits
    the check is "unknown" (too_complex); over the size cap (too_large) a link in the part read is live,
    and no link found is "unknown", never "missing".
    """
    result = CheckResult(page=fetched.url, final_url=fetched.final_url, http_status=fetched.status,
                         status="missing", redirects=list(fetched.redirects), error=fetched.error,
                         anchor_expected=anchor or None, rendered=rendered_html is not None,
                         render_error=render_error)
    problems = result.problems
    if fetched.status is None:
        result.status = "error"
        problems.append(fetched.error or "unreachable")
        return result
    if fetched.error and fetched.error in ("redirect_loop", "too_many_redirects", "bad_scheme"):
        result.status = "error"
        problems.append(fetched.error)
        return result
    if fetched.status in TRANSIENT_STATUSES:
        result.status = "error"
        problems.append(f"http_{fetched.status}")
        return result
    if fetched.redirects and _is_home(fetched.final_url) and not _is_home(fetched.url):
        problems.append("redirected_home")
    if fetched.status >= 400:
        problems.append(f"http_{fetched.status}")
        problems.append("link_missing")
        return result
    if fetched.content_type not in _HTML_TYPES:
        problems.append("not_html")
        problems.append("link_missing")
        return result
    try:
        html, encoding, page = read_page(fetched, limits)
    except TooComplex:
        result.status = "unknown"
        problems.append(TOO_COMPLEX)
        return result
    matches = target_matcher(target, match_mode)
    links = [FoundLink(href=link.href, anchor=link.anchor, rel=list(link.rel), is_image=link.is_image)
             for link in page.links if matches(link.href)]
    if links and _only_in_noscript(html, page, matches, encoding, limits):
        problems.append("only_in_noscript")
    if rendered_html is not None:
        try:
            dom = parse_page(rendered_html, fetched.final_url, with_text=False, encoding=encoding, limits=limits)
        except TooComplex as exc:
            result.render_error = f"the rendered page is too complex to read: {exc}"
        else:
            static_keys = {(link.href, _norm(link.anchor)) for link in links}
            for link in dom.links:
                if matches(link.href) and (link.href, _norm(link.anchor)) not in static_keys:
                    links.append(FoundLink(href=link.href, anchor=link.anchor, rel=list(link.rel),
                                           is_image=link.is_image, dom="rendered"))
    result.links = links
    if fetched.truncated:
        problems.extend(("too_large", "truncated"))  # "truncated": the name older checks stored
    _robots_meta(result, page, fetched)
    if any(link.dom == "static" for link in links):
        result.found_in = "static"
    elif links:
        result.found_in = "rendered"
        problems.append("only_after_javascript")
    if not links:
        if fetched.truncated:
            result.status = "unknown"  # the link may be in the part not read
        else:
            problems.append("link_missing")
        return result
    result.status = "live"
    page_nofollow = "nofollow" in result.meta_robots or "none" in result.meta_robots or \
        any(t in ("nofollow", "none") for t in _robots_header(result.x_robots_tag))
    result.follow = any(link.is_followed for link in links) and not page_nofollow
    if not any(link.is_followed for link in links):
        weak = sorted({t for link in links for t in link.rel if t in WEAK_RELS})
        problems.extend(weak)
    if page_nofollow and "nofollow" not in problems:
        problems.append("nofollow")
    wanted_tracking = _tracking(target) if match_mode == "exact" else []
    if wanted_tracking and not any(_tracking(link.href) == wanted_tracking for link in links):
        problems.append("tracking_differs")  # the link counts, but not with the parameters the client asked for
    if anchor:
        result.anchor_matches = any(_norm(link.anchor) == _norm(anchor) for link in links)
        if not result.anchor_matches:
            problems.append("anchor_mismatch")
    return result


def _robots_meta(result: CheckResult, page: ParsedPage, fetched: FetchResult) -> None:
    result.meta_robots = list(page.meta_robots)
    result.x_robots_tag = fetched.headers.get("x-robots-tag", "")
    header = _robots_header(result.x_robots_tag)
    if "noindex" in page.meta_robots or "none" in page.meta_robots or "noindex" in header or "none" in header:
        result.problems.append("noindex")
    result.canonical = page.canonical
    if page.canonical and link_key(page.canonical) != link_key(fetched.final_url):
        result.problems.append("canonical_elsewhere")


def _only_in_noscript(html: str, page: ParsedPage, matches: Callable[[str], bool], encoding: str,
                      limits: ParseLimits | None = None) -> bool:
    """Whether every matching link sits inside <noscript> (what a browser running scripts never shows)."""
    # searched up to the last end tag only: a <noscript> left open would be looked for to the end of the page
    # once per open tag
    end = html.lower().rfind("</noscript")
    blocks = _NOSCRIPT.findall(html, 0, html.find(">", end) + 1) if end >= 0 else []
    if not blocks:
        return False
    try:
        inside = sum(1 for block in blocks
                     for link in parse_page(block, page.base_url, with_text=False, encoding=encoding,
                                            limits=limits).links
                     if matches(link.href))
    except TooComplex:
        return False
    total = sum(1 for link in page.links if matches(link.href))
    return inside >= total > 0


def _is_home(url: str) -> bool:
    return urlsplit(url).path in ("", "/") and not urlsplit(url).query


def _finish(result: CheckResult, allowed_googlebot: bool | None, allowed_agent: bool | None) -> CheckResult:
    result.robots_allowed_googlebot, result.robots_allowed_agent = allowed_googlebot, allowed_agent
    if allowed_googlebot is False:
        result.problems.append("robots_disallowed")
    if allowed_agent is False:
        result.problems.append("robots_disallowed_agent")
    result.indexable = result.status not in ("error", "unknown") and (result.http_status or 0) < 400 and not any(
        p in result.problems for p in ("noindex", "robots_disallowed", "canonical_elsewhere", "redirected_home"))
    return result


async def verify_page(fetcher: Fetcher, page_url: str, target: str, *, match_mode: str = "exact",
                      anchor: str | None = None, renderer: Renderer | None = None) -> CheckResult:
    """Fetch page_url once (and render it when a renderer is given) and judge its links to target."""
    fetched = await fetcher.fetch(page_url)
    rendered_html = render_error = None
    if renderer is not None and fetched.status is not None and fetched.status < 400:
        try:
            rendered_html = await renderer.render(fetched.final_url)
        except RenderError as exc:
            render_error = str(exc)
    limits = fetcher.settings.parse
    markup = fetched.body if rendered_html is None else rendered_html  # the DOM after scripts ran is the larger
    result = await off_loop(limits, markup, analyse, fetched, target, match_mode=match_mode, anchor=anchor,
                            rendered_html=rendered_html, render_error=render_error, limits=limits)
    allowed_googlebot = allowed_agent = None
    if fetched.status is not None and fetched.status < 500:
        allowed_googlebot = await fetcher.allowed_by_robots(fetched.final_url, GOOGLEBOT)
        allowed_agent = await fetcher.allowed_by_robots(fetched.final_url)
    return _finish(result, allowed_googlebot, allowed_agent)


def verify(page_url: str, target: str, settings: Settings, *, match_mode: str = "exact",
           anchor: str | None = None, render: bool = False) -> CheckResult:
    """Verify one page from synchronous code (the CLI)."""
    fetch_settings = FetchSettings.from_settings(settings)

    async def run() -> CheckResult:
        async with Fetcher(fetch_settings) as fetcher:
            if not render:
                return await verify_page(fetcher, page_url, target, match_mode=match_mode, anchor=anchor)
            async with Renderer(settings) as renderer:
                return await verify_page(fetcher, page_url, target, match_mode=match_mode, anchor=anchor,
                                         renderer=renderer)

    return run_sync(run())


# --- rendering in headless Chromium ----------------------------------------------------------------

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


#: response headers the fetcher has already acted on (it decompresses, follows redirects, keeps no cookies)
_NOT_FORWARDED = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive",
                            "location", "set-cookie", "set-cookie2"})


class RenderError(RuntimeError):
    """The page could not be rendered (Chromium missing, timeout, crash)."""


class Renderer:
    """Headless Chromium through Playwright; every request it makes passes the same address guard."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout_ms = int(settings.crawl.timeout * 1000)
        self._pw: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._fetcher: Fetcher | None = None

    async def __aenter__(self) -> Renderer:
        try:
            from playwright.async_api import async_playwright
        except ImportError:
            raise RenderError("rendering needs the playwright package (pip install playwright)") from None
        self._pw = await async_playwright().start()
        try:
            self._browser = await self._pw.chromium.launch(
                executable_path=self.settings.backlinks.chromium_path, args=CHROMIUM_ARGS)
        except Exception as exc:
            await self._pw.stop()
            raise RenderError(f"cannot start Chromium at {self.settings.backlinks.chromium_path}: "
                              f"{str(exc).splitlines()[0]}") from None
        self._context = await self._browser.new_context(user_agent=self.settings.crawl.user_agent,
                                                        service_workers="block")
        await self._context.route("**/*", self._guard)
        self._fetcher = await Fetcher(FetchSettings.from_settings(self.settings)).__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._fetcher is not None:
            await self._fetcher.__aexit__(*exc)
        if self._browser is not None:
            await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()

    async def _guard(self, route: Any) -> None:
        """Chromium makes no request of its own: each one is fetched by the guarded fetcher.

        Playwright calls a route handler only for the first URL of a redirect chain, so letting Chromium
        continue a request would let a redirect (of the page, a script, an iframe) reach a private address.
        The fetcher follows redirects itself and checks every hop after DNS resolution.
        """
        request = route.request
        if request.resource_type in ("image", "media", "font") or request.method not in ("GET", "HEAD"):
            await route.abort()  # nothing a link check needs; no side effects on anyone's server
            return
        scheme = urlsplit(request.url).scheme
        if scheme in ("data", "blob", "about"):
            await route.continue_()
            return
        if scheme not in ("http", "https") or self._fetcher is None:
            await route.abort("addressunreachable")
            return
        accept = request.headers.get("accept")
        fetched = await self._fetcher.fetch(request.url, method=request.method, polite=False,
                                            headers={"Accept": accept} if accept else None)
        if fetched.status is None or fetched.error is not None:
            await route.abort("addressunreachable" if fetched.error == "blocked_address" else "failed")
            return
        headers = {name: value for name, value in fetched.headers.items() if name not in _NOT_FORWARDED}
        await route.fulfill(status=fetched.status, headers=headers, body=fetched.body)

    async def render(self, url: str) -> str:
        """The DOM of url after its scripts ran, as HTML."""
        page = await self._context.new_page()
        try:
            try:
                await page.goto(url, wait_until="load", timeout=self.timeout_ms)
                await page.wait_for_load_state("networkidle", timeout=min(self.timeout_ms, 5000))
            except Exception as exc:
                if "networkidle" not in str(exc) and "Timeout" not in type(exc).__name__:
                    raise RenderError(f"rendering {url} failed: {str(exc).splitlines()[0]}") from None
            return await page.content()
        finally:
            await page.close()
