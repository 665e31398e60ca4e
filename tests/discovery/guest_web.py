"""Test webs for guest-post discovery: sites that accept guest posts, and decoys that must not count."""
from __future__ import annotations

from tests.lib.testweb import TestWeb

LOREM = ("Widgets are small mechanical parts. Our writers test widget tools, review widget kits and explain "
         "how to repair widgets at home. ")


def page(title: str, body: str, head: str = "") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body><nav><a href='/'>Home</a></nav>{body}</body></html>"


#: path -> (html, accepts?) : pages classified one by one (the case set for precision and recall)
PAGES: dict[str, tuple[str, bool]] = {
    "/write-for-us": (page("Write for us", "<h1>Write for us</h1><p>We accept guest posts about widgets and "
                           "tools. Articles should be 1,200–2,000 words, original and unpublished. Send your pitch "
                           "to editor@site.test. One do-follow link in the author bio is allowed.</p>"), True),
    "/contribute-article": (page("Contribute", "<h1>Become a contributor</h1><p>We're always looking for new "
                                 "writers. Submit your article idea through the form below.</p><form><textarea "
                                 "name=pitch></textarea></form>"), True),
    "/guest-post-guidelines": (page("Guest post guidelines", "<h1>Guest Post Guidelines</h1><p>Pitch us "
                                    "with three headline ideas. Topics we cover: widgets, repair, tools. "
                                    "Minimum of 800 words.</p>"), True),
    "/submit": (page("Submit an article", "<h2>Submit an article</h2><p>We welcome guest articles from "
                     "practitioners. Please use our <a href='https://docs.google.com/forms/d/abc'>submission "
                     "form</a>.</p>"), True),
    # decoys
    "/write-for-us-closed": (page("Write for us", "<h1>Write for us</h1><p>Update: we no longer accept guest "
                                  "posts. Thanks to everyone who sent a pitch. Articles should be 1,000 words."
                                  "</p>"), False),
    "/guest-posts-paused": (page("Guest posts", "<h1>Guest posts</h1><p>Guest posting is currently closed. "
                                 "We are not accepting submissions this year.</p>"), False),
    "/blog/my-first-guest-post": (page(
        "How I landed my first guest post",
        "<article><h1>How I landed my first guest post</h1><p>Last spring I decided to write a guest post. "
        "I spent weeks on my draft, and my editor said my 1,500 words were too long. I cut it, I sent it, and "
        "I waited. My post went live in May and I learned a lot.</p></article>",
        '<meta property="og:type" content="article">'), False),
    "/contribute": (page("Contribute", "<h1>Contribute</h1><p>Support our work with a donation. A gift of "
                         "$25 keeps the lights on; donations are tax-deductible. Give today.</p>"), False),
    "/contribute-code": (page("Contribute", "<h1>Contributing</h1><p>We welcome contributions to the widget "
                              "library. Fork the repository and submit a pull request; run the tests first.</p>"),
                         False),
    "/blog/widget-tips": (page("10 widget tips (guest post by Jane Roe)", "<h1>10 widget tips</h1><p>Jane Roe "
                               "shares her favourite widget tools. Oil the gears, check the springs.</p>"), False),
    "/about": (page("About us", "<h1>About</h1><p>We are a small team that writes about widgets.</p>"), False),
    "/news/guest-speaker": (page("Guest speaker at our meetup", "<h1>Meetup news</h1><p>Our guest speaker "
                                 "talked about widget posts.</p>"), False),
}


def build(web: TestWeb, accepts: bool = True, extra_text: str = "", spam: bool = False) -> None:
    """A whole site: a home page linking (in the footer) to its guidelines page, plus a contact page."""
    footer = "<footer><a href='/contact'>Contact</a> <a href='/guidelines'>Write for us</a></footer>"
    body = f"<h1>Widget Weekly</h1><p>{LOREM * 8}{extra_text}</p>"
    if spam:
        body += "<p>Best casino bonus, cheap viagra, payday loans.</p>" + "".join(
            f"<a href='https://spam{i}.test/'>x</a>" for i in range(60))
    web.page("/", page("Widget Weekly", body + footer))
    web.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    web.page("/contact", page("Contact", "<p>Email hello@site.test.</p>"))
    if accepts:
        web.page("/guidelines", PAGES["/write-for-us"][0])
    else:
        web.page("/guidelines", PAGES["/write-for-us-closed"][0])
