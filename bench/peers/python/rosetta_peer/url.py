"""URLs: resolution, normalisation, same-origin -- scenarios/url.cpp in Python.

Every URL a crawler stores or compares goes through normalize_url or resolve first, so two
spellings of one resource ("HTTP://Host:80/a/./b%7e" and "http://host/a/b~") become one string
and are fetched once. The rules are the C++ ones (Boost.URL plus the fixes url.cpp makes):

  RFC 3986 resolution (5.2) with dot segments removed as the RFC says (".." never climbs above
  the root); scheme and host lowercased; unreserved escapes decoded ("%7e" -> "~", also before
  dot segments are removed: "%2e%2E" is ".."), every other escape kept with its hex uppercased
  ("%2f" -> "%2F", another resource than "/"); the default port dropped (80 for http, 443 for
  https), any other written canonically ("08080" -> "8080"); the fragment removed; an empty
  path is "/". Refused (None): what is not RFC 3986 (a space, a raw non-ASCII character, a bad
  escape), what is not http(s), what has no host, a port of 0 or above 65535.

urllib.parse is not used: it accepts what RFC 3986 refuses ("has space"), keeps ".." above the
root and never normalises escapes, so the Python peers would fetch a URL the C++ models drop.
"""

import functools
import ipaddress
import re

__all__ = ["resolve_url", "normalize_url", "same_origin", "request_target", "normalize_path",
           "absolute_url", "UrlResolver"]

# RFC 3986 appendix B: splits any string into its five parts; the checks below say whether
# each part is valid.
_SPLIT = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?\Z", re.S)

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRES = r"A-Za-z0-9\-._~"
_PCHAR = rf"(?:[{_UNRES}{re.escape(_SUB_DELIMS)}:@]|{_PCT})"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*\Z")
_PATH = re.compile(rf"(?:{_PCHAR}|/)*\Z")
_QUERY = re.compile(rf"(?:{_PCHAR}|[/?])*\Z")
_USERINFO = re.compile(rf"(?:[{_UNRES}{re.escape(_SUB_DELIMS)}:]|{_PCT})*\Z")
_REG_NAME = re.compile(rf"(?:[{_UNRES}{re.escape(_SUB_DELIMS)}]|{_PCT})*\Z")
_IPVFUTURE = re.compile(rf"[vV][0-9A-Fa-f]+\.[{_UNRES}{re.escape(_SUB_DELIMS)}:]+\Z")
_PORT = re.compile(r"[0-9]*\Z")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


class _Ref:
    """A parsed URI reference. None marks an absent part ("" is present but empty)."""

    __slots__ = ("scheme", "userinfo", "host", "port", "path", "query")

    def __init__(self, scheme, userinfo, host, port, path, query):
        self.scheme, self.userinfo, self.host, self.port = scheme, userinfo, host, port
        self.path, self.query = path, query

    @property
    def has_authority(self):
        return self.host is not None


def _parse_authority(text):
    """(userinfo, host, port) of an authority, or None when it is not RFC 3986."""
    userinfo = None
    at = text.rfind("@")
    if at >= 0:
        userinfo, text = text[:at], text[at + 1:]
        if not _USERINFO.match(userinfo):
            return None
    port = None
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            return None
        host, rest = text[:close + 1], text[close + 1:]
        literal = host[1:-1]
        if not _IPVFUTURE.match(literal):
            try:
                ipaddress.IPv6Address(literal)
            except ValueError:
                return None
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    else:
        colon = text.rfind(":")
        host = text
        if colon >= 0:
            host, port = text[:colon], text[colon + 1:]
        if not _REG_NAME.match(host):
            return None
    if port is not None and not _PORT.match(port):
        return None
    return userinfo, host, port


def _parse(text):
    """A URI reference (absolute or relative) or None when text is not RFC 3986."""
    if not text.isascii():
        return None
    m = _SPLIT.match(text)
    scheme, authority, path, query, fragment = m.groups()
    if scheme is not None and not _SCHEME.match(scheme):
        return None
    if scheme is None and authority is None:
        # path-noscheme: a relative path's first segment cannot hold a colon (it would be
        # read as a scheme); _SPLIT took it as a path only because the scheme was not valid.
        first = path.split("/", 1)[0]
        if ":" in first:
            return None
    if not _PATH.match(path):
        return None
    for part in (query, fragment):
        if part is not None and not _QUERY.match(part):
            return None
    userinfo = host = port = None
    if authority is not None:
        parsed = _parse_authority(authority)
        if parsed is None:
            return None
        userinfo, host, port = parsed
        if path and not path.startswith("/"):
            return None
    elif path.startswith("//"):
        return None
    return _Ref(scheme, userinfo, host, port, path, query)


def _remove_dot_segments(path):
    """RFC 3986 5.2.4: "/a/b/../c/./d" -> "/a/c/d"; ".." above the root is dropped."""
    if "." not in path:
        return path
    out = []
    absolute = path.startswith("/")
    segments = path.split("/")
    if absolute:
        segments = segments[1:]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return ("/" if absolute else "") + "/".join(out)


def _merge(base, ref_path):
    if base.has_authority and base.path == "":
        return "/" + ref_path
    slash = base.path.rfind("/")
    return base.path[:slash + 1] + ref_path


def _resolve(base, ref):
    """RFC 3986 5.2.2 (strict): the target of ref against base (an absolute URI)."""
    if ref.scheme is not None:
        return _Ref(ref.scheme, ref.userinfo, ref.host, ref.port,
                    _remove_dot_segments(ref.path), ref.query)
    if ref.has_authority:
        return _Ref(base.scheme, ref.userinfo, ref.host, ref.port,
                    _remove_dot_segments(ref.path), ref.query)
    if ref.path == "":
        query = ref.query if ref.query is not None else base.query
        return _Ref(base.scheme, base.userinfo, base.host, base.port, base.path, query)
    path = ref.path if ref.path.startswith("/") else _merge(base, ref.path)
    return _Ref(base.scheme, base.userinfo, base.host, base.port, _remove_dot_segments(path),
                ref.query)


def _normalize_escapes(text):
    """RFC 3986 6.2.2.1-2: unreserved escapes decoded, the other escapes' hex uppercased."""
    if "%" not in text:
        return text

    def one(m):
        octet = int(m.group(1), 16)
        return chr(octet) if octet in _UNRESERVED else "%" + m.group(1).upper()

    return _ESCAPE.sub(one, text)


_DEFAULT_PORT = {"http": 80, "https": 443}


def _finish(url):
    """The checks and the normalisation of the contract; None when url cannot be fetched."""
    scheme = url.scheme.lower()
    if scheme not in _DEFAULT_PORT or not url.has_authority or url.host == "":
        return None
    default = _DEFAULT_PORT[scheme]
    port = default if not url.port else int(url.port)
    if port == 0 or port > 65535:
        return None
    host = _normalize_escapes(url.host).lower()
    out = scheme + "://"
    if url.userinfo is not None:
        out += _normalize_escapes(url.userinfo) + "@"
    out += host
    if port != default:
        out += ":" + str(port)
    path = _remove_dot_segments(_normalize_escapes(url.path))
    out += path or "/"
    if url.query is not None:
        out += "?" + _normalize_escapes(url.query)
    return out


@functools.lru_cache(maxsize=4096)
def _normal_base(base):
    """(normalised base text, its parse) or None. Cached: a crawl resolves many links against
    a few dozen bases, and each parse costs some microseconds."""
    parsed = _parse(base)
    if parsed is None or parsed.scheme is None:
        return None
    normal = _finish(parsed)
    if normal is None:
        return None
    return normal, _parse(normal)


class UrlResolver:
    """One base, parsed and normalised once, for many hrefs. Like a browser, it resolves
    against the normalised base. A base that is not an absolute http(s) URL makes every
    resolve() return None."""

    __slots__ = ("base", "_parsed")

    def __init__(self, base):
        found = _normal_base(base)
        self.base, self._parsed = found if found else (None, None)

    def resolve(self, href):
        if self._parsed is None:
            return None
        ref = _parse(href)
        if ref is None:
            return None
        return _finish(_resolve(self._parsed, ref))


def resolve_url(base, href):
    """href resolved against base (absolute), normalised, without fragment; None if unusable."""
    return UrlResolver(base).resolve(href)


def normalize_url(absolute):
    """The same normalisation of an absolute URL; None if not an absolute http(s) URL."""
    parsed = _parse(absolute)
    if parsed is None or parsed.scheme is None:
        return None
    parsed.path = _remove_dot_segments(parsed.path)
    return _finish(parsed)


def _effective_port(port, if_absent):
    if not port:
        return if_absent
    value = int(port)
    return value if value <= 65535 else 0


def same_origin(url, authority):
    """True when url is http and its host:port equals authority ("127.0.0.1:8080"; a missing
    port means 80 on either side). The host is compared case-insensitively."""
    parsed = _parse(url)
    if parsed is None or parsed.scheme is None or parsed.scheme.lower() != "http":
        return False
    if not parsed.has_authority:
        return False
    theirs = _parse_authority(authority)
    if theirs is None:
        return False
    port = _effective_port(parsed.port, 80)
    return (port != 0 and port == _effective_port(theirs[2], 80)
            and parsed.host.lower() == theirs[1].lower())


def request_target(url):
    """Path plus "?query" of an absolute URL; "/" for an empty path. ValueError if relative."""
    parsed = _parse(url)
    if parsed is None or parsed.scheme is None:
        raise ValueError("not an absolute URL: " + url)
    target = parsed.path or "/"
    if parsed.query is not None:
        target += "?" + parsed.query
    return target


def normalize_path(text):
    """An absolute path normalised as a URL's path would be ("/p/../p/3#f" is "/p/3"); None
    when it does not start with exactly one '/' or is not a valid path."""
    if not text.startswith("/") or text.startswith("//"):
        return None
    url = normalize_url("http://host" + text)
    return None if url is None else request_target(url)


def absolute_url(authority, path):
    """"http://" + authority + path, normalised. ValueError if that is not a URL."""
    text = "http://" + authority
    if path and not path.startswith(("/", "?")):
        text += "/"
    text += path
    normal = normalize_url(text)
    if normal is None:
        raise ValueError("not a URL: " + text)
    return normal
