"""A crawler for the CSP tests: follows the links (and hx-get addresses) of every page it reaches and
reports anything a strict Content-Security-Policy would block or that runs script inline."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.urls import Resolver404, resolve

# Addresses the crawler does not follow: they end the session, or are files rather than pages.
SKIP_PREFIXES = ("/logout/", "/static/", "/i18n/")
# URL attributes whose value must never be a javascript: address.
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "hx-get", "hx-post"}
# <script type="..."> values that are data, not code: browsers never execute them (json_script, Swagger settings).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script":
            kind = (values.get("type") or "").strip().lower()
            self._inline_script = not values.get("src") and kind not in DATA_SCRIPT_TYPES
            if self._inline_script:
                self.problems.append(f"<script> without src (type={kind or 'text/javascript'})")
        if tag == "style":
            self.problems.append("<style> block")
        for name, value in attrs:
            lowered = name.lower()
            if lowered.startswith("on") or lowered.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"<{tag} {name}=...> inline event handler")
            if lowered == "style":
                self.problems.append(f"<{tag} style=...> inline style")
            if lowered in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        for name in ("href", "hx-get"):
            if values.get(name):
                self.links.append(values[name])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._inline_script = False

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False


def inspect_html(html: str) -> tuple[list[str], list[str]]:
    """(problems, links) of one page."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.problems, parser.links


@dataclass
class CrawlResult:
    visited: dict[str, int] = field(default_factory=dict)  # path -> status
    names: dict[str, str] = field(default_factory=dict)  # path -> url name
    routes: Counter = field(default_factory=Counter)  # url name -> pages seen
    problems: dict[str, list[str]] = field(default_factory=dict)
    missing_csp: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)


def _route_name(path: str) -> str | None:
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return None
    return match.view_name


def crawl(client, start: list[str], *, max_pages: int = 400, per_route: int = 3) -> CrawlResult:
    """Breadth-first over same-site links, at most ``per_route`` pages of any one URL name."""
    result = CrawlResult()
    queue = deque(start)
    seen = set(start)
    while queue and len(result.visited) < max_pages:
        url = queue.popleft()
        name = _route_name(url)
        if name is None or result.routes[name] >= per_route:
            continue
        result.routes[name] += 1
        result.names[url] = name
        response = client.get(url)
        result.visited[url] = response.status_code
        if response.status_code >= 500:
            result.server_errors.append(url)
        if "Content-Security-Policy" not in response:
            result.missing_csp.append(url)
        if response.status_code in (301, 302, 303, 307, 308):
            links = [response["Location"]]  # an index that sends you on to the one operation
        elif response.streaming or not response.get("Content-Type", "").startswith("text/html"):
            continue
        else:
            problems, links = inspect_html(response.content.decode())
            if problems:
                result.problems[url] = sorted(set(problems))
        for link in links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue  # another site, a fragment or a relative oddity
            if parts.path.startswith(SKIP_PREFIXES) or link in seen:
                continue
            if parts.path.startswith("/admin/") and parts.path.count("/") > 3:
                continue  # the admin index and app lists stand for the admin (Django's own templates)
            seen.add(link)
            queue.append(link)
    return result
