"""The options of a model executable -- scenarios/spec.cpp in Python.

Same names, defaults, ranges and cross-checks as `build/bin/rosetta-blocking --help`, and the
same one-line errors (CLI11's words, which the C++ executables print): a user mistake prints
"rosetta-<id>: <option>: <reason> (see --help)" on stderr and exits 2; --help exits 0.
argparse is not used because its errors are worded otherwise and span two lines.
"""

import errno
import math
import os
import re
import socket
import sys

from .url import normalize_path

__all__ = ["Spec", "UsageError", "parse_args", "parse_faults", "parse_host_port", "help_text"]

FAULT_CLASSES = ("reset", "stall", "status", "notfound", "truncate", "malformed", "slow")


class UsageError(Exception):
    """A user mistake: printed as one line, exit 2. `see_help`: end it with "(see --help)"."""

    def __init__(self, message, see_help=True):
        super().__init__(message)
        self.see_help = see_help


class Spec:
    """The parsed options. Attribute names are the options' with '_' for '-'."""

    def __init__(self):
        self.scenario = "download"
        self.concurrency = 100
        self.pages = 1000
        self.max_pages = None
        self.page_bytes = 16384
        self.links = 8
        self.latency_ms = 0
        self.faults = "none"          # canonical text of the fault mix
        self.fault_rates = {}         # class -> rate, the non-zero ones
        self.timeout_ms = 5000
        self.retries = 2
        self.keepalive = True
        self.threads = 1
        self.seed = 1
        self.origin = ""
        self.host = ""
        self.port = 0
        self.start = "/"
        self.json = False
        self.records = ""
        self.out = ""

    @property
    def timeout_s(self):
        return self.timeout_ms / 1000.0

    @property
    def crawling(self):
        return self.scenario == "crawl"


def _shortest(rate):
    """A rate as fmt's {} prints a double: the shortest text that reads back the same."""
    text = repr(rate)
    return text[:-2] if text.endswith(".0") else text


# A number on the command line: decimal text only, as scenarios/spec.cpp's parse_decimal and
# parse_whole_number (no sign, hex, "_", spaces, inf or nan).
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")
UINT64_MAX = (1 << 64) - 1


def parse_decimal(text):
    """The number of a DIGITS[.DIGITS][e[+|-]DIGITS] text, or None (also past the largest double)."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


def parse_whole_number(text):
    """The number of an ASCII-digits text up to 2^64 - 1, or None."""
    if not _WHOLE.fullmatch(text) or int(text) > UINT64_MAX:
        return None
    return int(text)


def parse_faults(text):
    """"none" or "reset=0.01,stall=0.02" -> {class: rate}. ValueError naming the bad part."""
    rates = {}
    text = text.strip(" \t")
    if text == "":
        raise ValueError("empty (write none for no faults)")
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in text):
        raise ValueError("holds a control character (a newline, a carriage return...)")
    if text == "none":
        return rates
    for item in text.split(","):
        item = item.strip(" \t")
        if not item:
            raise ValueError("'%s' has an empty item (a comma too many)" % text)
        if "=" not in item:
            raise ValueError("'%s' is not NAME=RATE" % item)
        name, rate_text = (part.strip(" \t") for part in item.split("=", 1))
        if name not in FAULT_CLASSES:
            raise ValueError("unknown fault class '%s' (known: %s)" % (name, ", ".join(FAULT_CLASSES)))
        if name in rates:
            raise ValueError("fault class '%s' given twice" % name)
        rate = parse_decimal(rate_text)
        if rate is None or rate > 1:
            raise ValueError("rate of '%s' must be a decimal number in [0, 1], got '%s'" % (name, rate_text))
        rates[name] = rate
    total = sum(rates.values())
    if total > 1 + 1e-9:
        raise ValueError("fault rates add up to %g, more than 1" % total)
    return rates


def faults_text(rates):
    parts = ["%s=%s" % (name, _shortest(rates[name])) for name in FAULT_CLASSES
             if rates.get(name, 0) > 0]
    return ",".join(parts) if parts else "none"


def _is_host(host):
    """An IPv4 address in dotted decimal or a host name, as scenarios/spec.cpp's is_host."""
    if not host or len(host) > 253:
        return False
    if all(c in "0123456789." for c in host):
        try:
            socket.inet_pton(socket.AF_INET, host)
        except OSError:
            return False
        return True
    for label in host.split("."):
        if not 0 < len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in label):
            return False
    return True


def parse_host_port(text):
    colon = text.rfind(":")
    host = text[:colon] if colon >= 0 else ""
    if not _is_host(host):
        raise ValueError("'%s' is not HOST:PORT with HOST an IPv4 address or a host name "
                         "(no scheme, path or IPv6)" % text)
    port = parse_whole_number(text[colon + 1:])
    if port is None or not 0 < port <= 65535:
        raise ValueError("'%s' has no valid port (1-65535)" % text)
    return host, port


# name -> (attribute, type name in errors and help, (low, high) or choices or None, default
# text for help, help). Order: as --help lists them.
_OPTIONS = {
    "--scenario": ("scenario", "download|crawl:{download,crawl}", ("download", "crawl"), " REQUIRED",
                   "Which program: download or crawl"),
    "--concurrency": ("concurrency", "INT:INT in [1 - 1000000]", (1, 1000000), "=100",
                      "At most C requests in flight"),
    "--max-pages": ("max_pages", "INT:INT in [1 - 100000000]", (1, 100000000), "=none",
                    "Crawl budget (URLs fetched)"),
    "--timeout-ms": ("timeout_ms", "INT:INT in [1 - 3600000]", (1, 3600000), "=5000",
                     "Per attempt: connect + full response (ms)"),
    "--retries": ("retries", "INT:INT in [0 - 100]", (0, 100), "=2",
                  "Extra attempts for retryable outcomes"),
    "--keepalive": ("keepalive", "on|off:{on,off}", ("on", "off"), "=on",
                    "Reuse connections where the model can"),
    "--origin": ("origin", "TEXT:HOST:PORT", None, "",
                 "HOST:PORT of a running HTTP/1.1 server (required)"),
    "--start": ("start", "TEXT:PATH", None, "=/", "Where the crawl starts (a path on the origin)"),
    "--json": ("json", "", None, "", "Print the result as one JSON object"),
    "--records": ("records", "FILE", None, "", "Write per-attempt records to FILE (JSON lines)"),
    "--out": ("out", "FILE", None, "", "Append the result JSON line to FILE"),
    "--pages": ("pages", "INT:INT in [1 - 10000000]", (1, 10000000), "=1000",
                "Pages of the synthetic site; download fetches all of them"),
    "--page-bytes": ("page_bytes", "INT:INT in [256 - 67108864]", (256, 64 << 20), "=16384",
                     "Body size of a page"),
    "--links": ("links", "INT:INT in [0 - 1000]", (0, 1000), "=8", "Links per page"),
    "--latency-ms": ("latency_ms", "INT:INT in [0 - 3600000]", (0, 3600000), "=0",
                     "Origin think time per response (ms)"),
    "--faults": ("faults", "SPEC:SPEC", None, "=none",
                 "Fault mix: none, or NAME=RATE,... with NAME one of reset, stall, status, notfound, "
                 "truncate, malformed, slow and RATE a decimal in [0, 1], the rates adding up to at "
                 "most 1 (empty is refused); e.g. reset=0.01,stall=0.01,status=0.02"),
    "--threads": ("threads", "INT:INT in [1 - 256]", (1, 256), "=1",
                  "Event loops / schedulers (event-driven models, origin)"),
    "--seed": ("seed", "UINT", None, "=1", "Seed of the site and the faults"),
}


def min_page_bytes(links):
    return 1024 + 128 * links


def help_text(peer_id, doc=""):
    lines = ["Concurrency Rosetta peer '%s': runs the download or crawl scenario against an origin "
             "and prints the model-side result. Usually started by `rosetta run`." % peer_id]
    if doc:
        lines.append(doc)
    lines += ["Usage: rosetta-%s [OPTIONS]" % peer_id, "", "Options:",
              "  -h,--help                   Print this help message and exit"]
    for name, (_, type_name, _, default, text) in _OPTIONS.items():
        head = "  %s %s%s" % (name, type_name, default) if type_name else "  " + name
        if len(head) < 30:
            lines.append(head.ljust(30) + text)
        else:
            lines += [head, " " * 30 + text]
    return "\n".join(lines) + "\n"


def _set(spec, name, value):
    attribute, type_name, limits, _, _ = _OPTIONS[name]
    if name == "--json":
        if value is None:
            spec.json = True
            return
        lowered = value.strip().lower()
        if lowered in ("1", "true", "on", "yes", "y", "t", "+"):
            spec.json = True
        elif lowered in ("0", "false", "off", "no", "n", "f", "-"):
            spec.json = False
        else:
            raise UsageError("Could not convert: --json = %s" % value)
        return
    if isinstance(limits, tuple) and isinstance(limits[0], int):
        number = parse_whole_number(value)
        if number is None or not limits[0] <= number <= limits[1]:
            raise UsageError("%s: Value %s not in range %d to %d" % (name, value, *limits))
        setattr(spec, attribute, number)
    elif isinstance(limits, tuple):
        if value not in limits:
            raise UsageError("%s: %s not in {%s}" % (name, value, ",".join(limits)))
        setattr(spec, attribute, value == "on" if name == "--keepalive" else value)
    elif name == "--seed":
        number = parse_whole_number(value)
        if number is None:
            raise UsageError("--seed: Value %s not in range 0 to %d" % (value, UINT64_MAX))
        spec.seed = number
    elif name == "--faults":
        try:
            spec.fault_rates = parse_faults(value)
        except ValueError as e:
            raise UsageError("--faults: %s" % e) from None
        spec.faults = faults_text(spec.fault_rates)
    elif name == "--origin":
        try:
            spec.host, spec.port = parse_host_port(value)
        except ValueError as e:
            raise UsageError("--origin: %s" % e) from None
        spec.origin = value
    elif name == "--start":
        path = normalize_path(value)
        if path is None:
            raise UsageError("--start: '%s' is not a path starting with one /" % value)
        spec.start = path
    else:
        if value == "":  # --records, --out: an empty path would silently mean none
            raise UsageError("%s: empty (leave the option out for none)" % name)
        setattr(spec, attribute, value)


def parse_args(args):
    """args (argv without the program) -> Spec. Raises UsageError; "--help" is the caller's."""
    spec = Spec()
    seen = {}
    extras = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        name, value = (arg.split("=", 1) + [None])[:2] if arg.startswith("--") else (arg, None)
        if name not in _OPTIONS:
            extras.append(arg)
            continue
        seen[name] = seen.get(name, 0) + 1
        if name != "--json" and value is None:
            if i < len(args) and not (args[i].startswith("--") and args[i][2:3].isalpha()):
                value = args[i]
                i += 1
        if name != "--json" and (value is None or (value == "" and "=" in arg)):
            raise UsageError("%s: 1 required %s missing" % (name, _OPTIONS[name][1]))
        if seen[name] > 1 and name != "--json":
            raise UsageError("%s: At Most 1 required but received %d" % (name, seen[name]))
        _set(spec, name, value)
    if extras:
        if len(extras) == 1:
            raise UsageError("The following argument was not expected: " + extras[0])
        raise UsageError("The following arguments were not expected: " + " ".join(reversed(extras)))
    if "--scenario" not in seen:
        raise UsageError("--scenario is required")
    if spec.page_bytes < min_page_bytes(spec.links):
        raise UsageError("--page-bytes: %d is too small for %d links per page (at least %d)"
                         % (spec.page_bytes, spec.links, min_page_bytes(spec.links)))
    if not spec.origin:
        raise UsageError("--origin: required (rosetta run starts an origin for you)", see_help=False)
    if spec.out:
        why = check_appendable(spec.out)
        if why:
            raise UsageError("--out %s: %s" % (spec.out, why), see_help=False)
    return spec


def check_appendable(path):
    """None when path can be appended to, else the reason; leaves no file behind (as
    scenarios/output.cpp's check_appendable): a missing one is created and removed again."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC))
        return None
    except OSError as e:
        if e.errno != errno.ENOENT:
            return e.strerror
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
        os.unlink(path)
        return None
    except OSError as e:
        if e.errno != errno.EEXIST:
            return e.strerror
    try:  # a dangling symbolic link (or a file made meanwhile): create through it, as a write would
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644))
        return None
    except OSError as e:
        return e.strerror


def usage_exit(program, error):
    print("%s: %s%s" % (program, error, " (see --help)" if error.see_help else ""), file=sys.stderr)
    sys.exit(2)
