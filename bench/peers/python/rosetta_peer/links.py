"""<a href> and <base href> of a page -- scenarios/links.cpp in Python.

lxml's HTML parser is libxml2's, the very parser the C++ models feed (Debian links both to the
same libxml2 2.9), driven the same way: its push parser (feed, then close), a SAX-like target
that only looks at start tags, no tree built, no DTD implied, no network, errors recovered from
silently, bytes taken as UTF-8 whatever a <meta charset> says. So libxml2 decides, as it does
for the C++ models, what is a tag, that <A HREF=7> is an <a href>, that entities in attribute
values are decoded ("&#55;" is "7"), and that comments and <script>/<style> bodies hold no
links. One known difference: after the first byte that is not UTF-8, libxml2 in C++ reads the
rest as ISO-8859-1, while lxml's decoder skips the bad byte; the origin's pages are ASCII.

html.parser (the standard library's) would do, but it is pure Python, about ten times slower
on a 16 KiB page, and its idea of where a <script> ends differs from libxml2's.
"""

from lxml import etree

from .url import UrlResolver

__all__ = ["extract_links", "hrefs_of"]

_HTML_SPACE = " \t\n\f\r"


class _Hrefs:
    """The parser target: collects the hrefs of <a> and the first <base href>."""

    __slots__ = ("hrefs", "base_href")

    def __init__(self):
        self.hrefs = []
        self.base_href = None

    def start(self, tag, attrib):
        if tag == "a":
            href = attrib.get("href")
            if href:
                href = href.strip(_HTML_SPACE)
                if href:
                    self.hrefs.append(href)
        elif tag == "base" and self.base_href is None:
            href = attrib.get("href")
            if href is not None:
                self.base_href = href.strip(_HTML_SPACE)

    def close(self):
        return self


def hrefs_of(html):
    """(raw hrefs of <a> in document order: entities decoded, whitespace trimmed, empty ones
    skipped; the first <base href> or None) of html (bytes)."""
    target = _Hrefs()
    parser = etree.HTMLParser(target=target, encoding="utf-8", default_doctype=False,
                              no_network=True, recover=True, remove_blank_text=False,
                              collect_ids=False)
    if html:
        parser.feed(html)
    try:
        parser.close()
    except etree.XMLSyntaxError:  # an empty document: no links, not an error
        pass
    return target.hrefs, target.base_href


def extract_links(html, page_url):
    """The links of a page: hrefs resolved against <base href> (itself resolved against
    page_url) if present and usable, else against page_url; unusable ones dropped, fragments
    removed, duplicates removed keeping the first. Off-site links are kept: the frontier
    decides what to follow."""
    hrefs, base_href = hrefs_of(html)
    page = UrlResolver(page_url)
    resolver = page
    if base_href is not None:
        base = page.resolve(base_href)
        if base is not None:
            resolver = UrlResolver(base)
    seen = set()
    links = []
    for href in hrefs:
        url = resolver.resolve(href)
        if url is not None and url not in seen:
            seen.add(url)
            links.append(url)
    return links
