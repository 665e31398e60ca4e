"""The sample web of `outreach demo`: six small sites on loopback addresses, each a strategy's material.

- resources (Garden Tools Weekly) and blog (Urban Harvest): resource pages whose outbound links are partly
  dead (404, 410, a host that does not resolve), contact pages with names beside the addresses;
- magazine (Green Thumb Magazine): a "write for us" page with guidelines and a submission address;
- news (Backyard News): an article embedding the client's infographic without a link, one naming the brand
  without a link, and an article where the client's link appears once "placed" (see /_demo on that site);
- dead (Soil Lab, closed): the pages the resource pages still link to;
- client (Acme Garden Co): the client's site, its composting guide (the target page) and the infographic.

Each site is its own loopback address so that each is its own site in the app; all share one port.
"""
from __future__ import annotations

import functools
import html
import http.server
import io
import threading
from dataclasses import dataclass, field
from typing import Any

#: site key -> (last octet of its 127.0.0.x address, its name)
SITES: dict[str, tuple[int, str]] = {
    "resources": (81, "Garden Tools Weekly"),
    "blog": (82, "Urban Harvest"),
    "magazine": (83, "Green Thumb Magazine"),
    "dead": (84, "Soil Lab"),
    "news": (85, "Backyard News"),
    "client": (86, "Acme Garden Co"),
}
DEFAULT_PORT = 8765
BRAND = "Acme Garden Co"
#: the article of the news site where the client's link appears once placed
PLACED_PAGE = "/2026/composting-tips"
#: per strategy, the page where the client's link appears once placed: the resource page that dropped its
#: dead link (broken links), the published guest post (guest posts), the article that named the brand (mentions)
PLACED_PAGES = {"resources": "/resources", "magazine": "/2026/small-space-composting", "news": PLACED_PAGE}
#: the anchor text the client asked for
PLACED_ANCHOR = "composting guide"


@functools.lru_cache(maxsize=1)
def infographic() -> bytes:
    """The client's infographic: a tall PNG chart, drawn once (the same bytes every time)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (600, 900), (250, 250, 245))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, 600, 112], fill=(34, 94, 60))
    heights = (310, 180, 420, 260, 360, 150, 300, 220)
    for i, height in enumerate(heights):
        x = 50 + i * 64
        draw.rectangle([x, 700 - height, x + 44, 700], fill=(60 + 22 * i, 140, 70))
    for i in range(4):
        draw.ellipse([40 + i * 140, 760, 140 + i * 140, 820], fill=(200, 120 + 30 * i, 60))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _page(title: str, body: str) -> bytes:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'</head><body><main>{body}</main></body></html>').encode()


@dataclass
class SampleWeb:
    """The running sample web: its sites' base URLs, and whether the client's link is placed."""

    port: int
    addresses: dict[str, str]                   # site key -> 127.0.0.x
    #: the sites whose page in PLACED_PAGES carries the client's link
    placed_on: set[str] = field(default_factory=set)
    servers: list[http.server.ThreadingHTTPServer] = field(default_factory=list)

    def base(self, site: str) -> str:
        return f"http://{self.addresses[site]}:{self.port}"

    def url(self, site: str, path: str = "/") -> str:
        return self.base(site) + path

    @property
    def host_ports(self) -> list[str]:
        """What [crawl] allow_private_hosts must name so that the app may fetch these sites (and nothing else)."""
        return [f"{address}:{self.port}" for address in self.addresses.values()]

    @property
    def placed(self) -> bool:
        return "news" in self.placed_on

    def place(self, on: bool = True, site: str = "news") -> None:
        """Put the client's link on the site's page in PLACED_PAGES (or take it away again)."""
        if on:
            self.placed_on.add(site)
        else:
            self.placed_on.discard(site)

    def placed_link(self, site: str, before: str = "") -> str:
        """The client's link as the site publishes it once placed, else nothing."""
        guide = self.url("client", "/guides/composting")
        return f'{before}<a href="{guide}">{PLACED_ANCHOR}</a>' if site in self.placed_on else ""

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    # --- what each site answers ---------------------------------------------------------------

    def answer(self, site: str, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of path on site."""
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        if (site, path) in (("client", "/infographic.png"), ("news", "/uploads/soil-chart.png")):
            return 200, "image/png", infographic()
        pages = getattr(self, f"_{site}")()
        if path == "/_demo" and site in PLACED_PAGES:
            pages[path] = self._controls(site)
        if path in pages:
            return 200, "text/html; charset=utf-8", _page(SITES[site][1], pages[path])
        if site == "dead" and path == "/retired-soil-calculator":
            return 410, "text/html; charset=utf-8", _page("Gone", "<h1>This tool was retired.</h1>")
        return 404, "text/html; charset=utf-8", _page("Not found", "<h1>Not found</h1>")

    def _controls(self, site: str) -> str:
        """The page that places or removes the client's link on this site (what the publisher would do)."""
        page = PLACED_PAGES[site]
        state = "placed" if site in self.placed_on else "not placed"
        return ("<h1>Sample web controls</h1><p>The client's link on "
                f'<a href="{page}">{html.escape(page)}</a> is <strong>{state}</strong>.</p>'
                '<form method="post" action="/_demo/place"><button name="on" value="1">Place the link'
                '</button> <button name="on" value="0">Remove the link</button></form>')

    def _resources(self) -> dict[str, str]:
        dead, client = self.base("dead"), self.base("client")
        # once placed, the client's guide replaces the dead one (what the pitch asked for)
        first = (f"{self.placed_link('resources')} by {BRAND}" if "resources" in self.placed_on
                 else f'<a href="{dead}/old-composting-guide">The beginner\'s composting guide</a>')
        return {
            "/": '<h1>Garden Tools Weekly</h1><p>Reviews of tools for small gardens.</p>'
                 '<nav><a href="/resources">Resources</a> · <a href="/contact">Contact</a></nav>',
            "/resources": "<h1>The best composting resources</h1><p>Guides and tools our readers love.</p><ul>"
                          f"<li>{first}</li>"
                          f'<li><a href="{dead}/retired-soil-calculator">Soil pH calculator</a></li>'
                          '<li><a href="http://seed-catalogue.invalid/">Heirloom seed catalogue</a></li>'
                          f'<li><a href="{dead}/still-here">Soil Lab\'s archive</a></li>'
                          f'<li><a href="{client}/">Acme Garden Co</a></li></ul>'
                          '<p><a href="/contact">Suggest a resource</a></p>',
            "/contact": "<h1>Contact</h1><p>Editor: Maria Lopez, maria@gardentoolsweekly.test</p>"
                        "<p>Advertising: ads@gardentoolsweekly.test</p>",
        }

    def _blog(self) -> dict[str, str]:
        dead = self.base("dead")
        return {
            "/": '<h1>Urban Harvest</h1><p>Growing food on balconies and rooftops.</p>'
                 '<nav><a href="/useful-links">Useful links</a> · <a href="/about">About</a></nav>',
            "/useful-links": "<h1>Useful links</h1><ul>"
                             f'<li><a href="{dead}/old-composting-guide">Composting for beginners</a></li>'
                             f'<li><a href="{dead}/retired-soil-calculator">Check your soil</a></li>'
                             "<li><a href=\"/about\">About this blog</a></li></ul>",
            "/about": '<h1>About</h1><p>Urban Harvest is written by '
                      '<a href="mailto:tom@urbanharvest.test">Tom Becker</a>.</p>',
        }

    def _magazine(self) -> dict[str, str]:
        return {
            "/": '<h1>Green Thumb Magazine</h1><p>Stories for gardeners.</p>'
                 '<nav><a href="/write-for-us">Write for us</a> · <a href="/contact">Contact</a></nav>',
            "/write-for-us": "<h1>Write for us</h1><p>We accept guest posts about composting, soil health and "
                             "small-space gardening.</p><h2>Guidelines</h2><ul><li>1,200 words or more, original "
                             "and not published elsewhere.</li><li>One link to your own site, in the author bio."
                             "</li><li>Photos you own, or none.</li></ul><p>Send your pitch to our editor "
                             "Sarah Kim at pitches@greenthumbmag.test.</p>",
            PLACED_PAGES["magazine"]: "<h1>Composting in small spaces</h1><p>A guest post.</p>"
                                      f"<p class=\"bio\">The author works at {BRAND}."
                                      f"{self.placed_link('magazine', ' Read their ')}</p>",
            "/contact": "<h1>Contact</h1><p>Sarah Kim, editor: sarah@greenthumbmag.test</p>",
        }

    def _dead(self) -> dict[str, str]:
        return {"/": "<h1>Soil Lab</h1><p>Soil Lab has closed. Our archive stays online.</p>",
                "/still-here": "<h1>Soil Lab archive</h1><p>Old studies, kept for reference.</p>"}

    def _news(self) -> dict[str, str]:
        link = (f"<p>Start with the {self.placed_link('news')} by {BRAND}.</p>" if self.placed
                else "<p>Start with a good guide.</p>")
        return {
            "/": '<h1>Backyard News</h1><ul><li><a href="/2026/soil-study">What is in your soil?</a></li>'
                 '<li><a href="/2026/tool-roundup">Ten tools for spring</a></li>'
                 f'<li><a href="{PLACED_PAGE}">Composting tips</a></li></ul><p><a href="/contact">Contact</a></p>',
            "/2026/soil-study": "<h1>What is in your soil?</h1><p>A new chart shows how compost changes soil.</p>"
                                '<img src="/uploads/soil-chart.png" alt="Soil chart" width="600" height="900">'
                                "<p>Chart source: the composting team of a garden company.</p>",
            "/2026/tool-roundup": "<h1>Ten tools for spring</h1><p>Our favourite is the compost tumbler from "
                                  f"{BRAND}, sturdy and easy to turn.</p>",
            PLACED_PAGE: f"<h1>Composting tips</h1><p>Five habits for a healthy heap.</p>{link}",
            "/contact": "<h1>Contact</h1><p>News desk: Lee Park, lee@backyardnews.test</p>",
        }

    def _client(self) -> dict[str, str]:
        return {
            "/": f'<h1>{BRAND}</h1><p>Tools and guides for gardeners.</p>'
                 '<p><a href="/guides/composting">The complete composting guide</a></p>',
            "/guides/composting": "<h1>The complete composting guide</h1><p>Everything about compost.</p>"
                                  '<img src="/infographic.png" alt="How compost changes soil" '
                                  'width="600" height="900">',
        }


def start_sample_web(port: int = DEFAULT_PORT, *, first_octet: int | None = None) -> SampleWeb:
    """Serve every site on its own 127.0.0.x address at port (0: any free port) from daemon threads.

    first_octet moves all sites to other addresses (tests use it so as not to meet a running demo).
    OSError when an address or the port cannot be used."""
    shift = 0 if first_octet is None else first_octet - min(octet for octet, _ in SITES.values())
    addresses = {key: f"127.0.0.{octet + shift}" for key, (octet, _) in SITES.items()}
    web = SampleWeb(port=port, addresses=addresses)
    try:
        for key, address in addresses.items():
            server = http.server.ThreadingHTTPServer((address, web.port), _handler(web, key))
            server.daemon_threads = True
            web.servers.append(server)
            web.port = server.server_address[1]  # the first site picks the port when given 0
            threading.Thread(target=server.serve_forever, name=f"demo-{key}", daemon=True).start()
    except OSError:
        web.close()
        raise
    return web


def _handler(web: SampleWeb, site: str) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "OutreachDemo/1.0"

        def do_GET(self) -> None:
            status, ctype, body = web.answer(site, self.path.split("?", 1)[0])
            self._send(status, ctype, body)

        def do_HEAD(self) -> None:
            status, ctype, body = web.answer(site, self.path.split("?", 1)[0])
            self._send(status, ctype, body, head=True)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = self.rfile.read(min(length, 1000)).decode("latin-1")
            if site in PLACED_PAGES and self.path == "/_demo/place":
                web.place("on=1" in form.split("&"), site)
                self.send_response(303)
                self.send_header("Location", "/_demo")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(405, "text/plain", b"method not allowed")

        def _send(self, status: int, ctype: str, body: bytes, head: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass  # the demo's console shows what to do, not every request

    return Handler
