"""The shared core of the Python peers, checked against the C++ truth wherever it can be:

  - the download order equals the order rosetta-blocking fetched in its records;
  - a sequential crawl with our links, URLs and frontier fetches exactly what the C++ blocking
    crawl fetched, in the same order;
  - URL resolution and normalisation pass every case of tests/unit/url_test.cpp, read from that
    file (one fact in one place), and the link cases of tests/unit/links_test.cpp;
  - a bad option gives the C++ executables' own one-line error and exit 2;
  - a record line has the C++ fields, in the C++ order;
  - py-threads verifies under the full fault mix (`rosetta run`).

Run from the repository: /usr/bin/python3 -m unittest discover -s bench/peers/python/tests
(or `/usr/bin/python3 -m unittest` inside bench/peers/python). Needs build/bin; what needs it
is skipped without it. About 10 s.
"""

import http.client
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = pathlib.Path(__file__).resolve().parent
PEERS_DIR = HERE.parent
ROOT = PEERS_DIR.parents[2]
# The build under test: CTest names its own (ROSETTA_BIN_DIR), by hand it is build/bin.
BIN = pathlib.Path(os.environ.get("ROSETTA_BIN_DIR") or ROOT / "build" / "bin")
sys.path.insert(0, str(PEERS_DIR))

from rosetta_peer import Frontier  # noqa: E402
from rosetta_peer.links import extract_links, hrefs_of  # noqa: E402
from rosetta_peer.records import Attempt, LatencyHistogram  # noqa: E402
from rosetta_peer.site import download_paths  # noqa: E402
from rosetta_peer.url import (absolute_url, normalize_path, normalize_url, request_target,  # noqa: E402
                              resolve_url, same_origin)

PYTHON = "/usr/bin/python3"
PEER = [PYTHON, str(PEERS_DIR / "peer.py")]
have_build = unittest.skipUnless((BIN / "rosetta").exists() and (BIN / "rosetta-blocking").exists(),
                                 "build/bin/rosetta and rosetta-blocking are needed")


class Origin:
    """`rosetta origin` on an ephemeral 127.0.0.1 port, stopped with SIGINT."""

    def __init__(self, *args):
        self.process = subprocess.Popen([str(BIN / "rosetta"), "origin", "--port", "0", *args],
                                        stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        self.authority = line.strip().rsplit(" ", 1)[-1]
        self.port = int(self.authority.rsplit(":", 1)[1])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=10)
        self.process.stdout.close()


def read_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def blocking(origin, *args):
    """rosetta-blocking against origin; its records."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as records:
        subprocess.run([str(BIN / "rosetta-blocking"), "--origin", origin.authority,
                        "--records", records.name, "--json", *args],
                       check=True, stdout=subprocess.DEVNULL)
        return read_records(records.name)


@have_build
class DownloadOrder(unittest.TestCase):
    def test_the_download_order_is_the_one_rosetta_blocking_fetches(self):
        for seed in ("1", "18446744073709551615"):
            with self.subTest(seed=seed), Origin("--pages", "150", "--seed", seed) as origin:
                fetched = [r["url"] for r in blocking(origin, "--scenario", "download", "--pages",
                                                      "150", "--seed", seed)]
                ours = ["http://%s%s" % (origin.authority, p) for p in download_paths(int(seed), 150)]
                self.assertEqual(fetched, ours)

    def test_the_order_does_not_depend_on_the_page_count_alone(self):
        self.assertNotEqual(download_paths(1, 50), download_paths(2, 50))
        self.assertEqual(sorted(download_paths(3, 50)), sorted("/p/%d" % i for i in range(50)))


@have_build
class Crawl(unittest.TestCase):
    def test_a_sequential_crawl_fetches_what_the_cpp_blocking_crawl_fetches_in_its_order(self):
        with Origin("--pages", "120", "--links", "10") as origin:
            theirs = [r["url"] for r in blocking(origin, "--scenario", "crawl", "--pages", "120",
                                                 "--links", "10")]
            start = absolute_url(origin.authority, "/")
            frontier = Frontier(start, origin.authority)
            connection = http.client.HTTPConnection("127.0.0.1", origin.port, timeout=5)
            ours = []
            while (url := frontier.next()) is not None:
                ours.append(url)
                connection.request("GET", request_target(url))
                response = connection.getresponse()
                body = response.read()
                frontier.done(extract_links(body, url) if response.status == 200 else [])
            connection.close()
        self.assertEqual(ours, theirs)
        self.assertTrue(frontier.finished())


class CppUrlCases(unittest.TestCase):
    """Every EXPECT of tests/unit/url_test.cpp that compares a string, read from the file."""

    source = (ROOT / "tests" / "unit" / "url_test.cpp").read_text() \
        if (ROOT / "tests" / "unit" / "url_test.cpp").exists() else ""
    STRING = r'"((?:[^"\\]|\\.)*)"'

    @staticmethod
    def unescape(text):
        return text.encode().decode("unicode_escape")

    def test_resolve_url_passes_the_cpp_resolution_examples(self):
        count = 0
        for block in re.finditer(r"expect_resolutions\(\s*(%s|rfc_base)\s*,\s*\{(.*?)\}\s*\);"
                                 % self.STRING, self.source, re.S):
            base = "http://a/b/c/d;p?q" if block.group(1) == "rfc_base" else block.group(2)
            for m in re.finditer(r"\{\s*%s\s*,\s*(std::nullopt|%s)\s*\}" % (self.STRING, self.STRING),
                                 block.group(3)):
                href = self.unescape(m.group(1))
                want = None if m.group(2) == "std::nullopt" else self.unescape(m.group(3))
                with self.subTest(base=base, href=href):
                    self.assertEqual(resolve_url(base, href), want)
                count += 1
        self.assertGreaterEqual(count, 60, "url_test.cpp changed shape: read fewer examples")

    def test_normalize_same_origin_request_target_absolute_url_and_normalize_path(self):
        s = self.STRING
        checks = [
            (r"EXPECT_EQ\(normalize_url\(%s\), %s\)" % (s, s), lambda a, want: (normalize_url(a), want)),
            (r"EXPECT_EQ\(request_target\(%s\), %s\)" % (s, s), lambda a, want: (request_target(a), want)),
            (r"EXPECT_EQ\(absolute_url\(%s, %s\), %s\)" % (s, s, s),
             lambda a, b, want: (absolute_url(a, b), want)),
            (r"EXPECT_EQ\(normalize_path\(%s\), (?:std::nullopt|%s)\)" % (s, s),
             lambda a, want: (normalize_path(a), want)),
            (r"EXPECT_(TRUE|FALSE)\(same_origin\(%s, %s\)\)" % (s, s),
             lambda truth, a, b: (same_origin(a, b), truth == "TRUE")),
        ]
        count = 0
        for pattern, check in checks:
            for m in re.finditer(pattern, self.source):
                args = [None if g is None else self.unescape(g) for g in m.groups()]
                with self.subTest(case=m.group(0)):
                    got, want = check(*args)
                    self.assertEqual(got, want)
                count += 1
        self.assertGreaterEqual(count, 40, "url_test.cpp changed shape: read fewer cases")
        for text in ("", "/p/1", "p/1", "//a/p", "ftp://a/", "mailto:x@example.com", "http:g",
                     "http:///x", "http://a b/", "http://a:70000/"):
            self.assertIsNone(normalize_url(text), text)


class CppLinkCases(unittest.TestCase):
    """Cases of tests/unit/links_test.cpp (libxml2 decides in both: lxml is libxml2)."""

    page = "http://127.0.0.1:8080/p/3"

    def test_ignores_links_inside_comments_scripts_and_styles(self):
        html = b"""<html><head>
        <!-- <a href="in-comment">old</a> -->
        <script>document.write('<a href="in-script">x</a>'); if (a < b) {}</script>
        <style>a[href="in-style"] { color: red }</style>
        </head><body><a href="real">real</a>
        <script type="text/template"><a href="in-template"></a></script>
        <!----><a href="after-empty-comment">y</a></body></html>"""
        self.assertEqual(hrefs_of(html)[0], ["real", "after-empty-comment"])

    def test_decodes_entities_reads_unquoted_uppercase_markup_and_trims(self):
        self.assertEqual(hrefs_of(b'<a href="/q?a=1&amp;b=2">1</a><a href="/p/&#55;">2</a>'
                                  b'<a href="/p/&#x37;">3</a><a href="/p/&#X37;&lt;&quot;">4</a>')[0],
                         ["/q?a=1&b=2", "/p/7", "/p/7", '/p/7<"'])
        hrefs, base = hrefs_of(b"<A HREF=7>a</A><a href='8'>b</a><a HrEf=\"9\">c</a><BASE HREF=/sub/>"
                               b"<a href=/p/10?x=1>")
        self.assertEqual((hrefs, base), (["7", "8", "9", "/p/10?x=1"], "/sub/"))
        self.assertEqual(hrefs_of(b"<a href='  7\n'>a</a><a href=''>b</a><a href='  \t'>c</a>"
                                  b"<a href>d</a><a name=x>e</a>")[0], ["7"])

    def test_reports_the_first_base_and_follows_libxml2_after_the_end_of_html(self):
        self.assertEqual(hrefs_of(b"<head><base target=_top><base href=' /first/ '>"
                                  b"<base href='/second/'></head>"), ([], "/first/"))
        self.assertEqual(hrefs_of(b"<html><body><a href=1></body><a href=2></html><a href=3>")[0],
                         ["1", "2"])
        self.assertEqual(hrefs_of(b'<head><meta charset="iso-8859-1"></head><body>'
                                  b'<a href="/caf\xc3\xa9">x</a>')[0], ["/caf\u00e9"])

    def test_resolves_the_origin_link_shapes_against_the_page(self):
        html = (b"<a href=7><a href=./8><a href=../p/9><a href=/p/10><a href=http://127.0.0.1:8080/p/11>"
                b"<a href=http://off.example/p/12><a href=\"/p/1&#51;\">")
        self.assertEqual(extract_links(html, self.page),
                         ["http://127.0.0.1:8080/p/%d" % i for i in (7, 8, 9, 10, 11)]
                         + ["http://off.example/p/12", "http://127.0.0.1:8080/p/13"])

    def test_resolves_against_the_first_usable_base(self):
        self.assertEqual(extract_links(b"<head><base href='../q/'></head><a href=7><a href=/root>",
                                       "http://127.0.0.1:8080/p/deep/3"),
                         ["http://127.0.0.1:8080/p/q/7", "http://127.0.0.1:8080/root"])
        self.assertEqual(extract_links(b"<base href='http://other.example/one/'><base href='/two/'>"
                                       b"<a href=7>", self.page), ["http://other.example/one/7"])
        for base in (b"javascript:x", b"has space"):
            self.assertEqual(extract_links(b"<base href='" + base + b"'><a href=7>", self.page),
                             ["http://127.0.0.1:8080/p/7"])

    def test_removes_fragments_duplicates_and_what_cannot_be_fetched(self):
        self.assertEqual(extract_links(b"<a href='#top'><a href='#'><a href=''>",
                                       "http://a/p/3?x=1#here"), ["http://a/p/3?x=1"])
        html = (b"<a href=9><a href=7#a><a href=./7#b><a href=../p/7><a href=9>"
                b"<a href=HTTP://127.0.0.1:8080/p/%37><a href=8>")
        self.assertEqual(extract_links(html, self.page), ["http://127.0.0.1:8080/p/9",
                                                          "http://127.0.0.1:8080/p/7",
                                                          "http://127.0.0.1:8080/p/8"])
        html = (b"<a href='mailto:a@example.com'><a href='javascript:void(0)'><a href='data:,x'>"
                b"<a href='tel:1'><a href='has space'><a href='%zz'><a href=ok>")
        self.assertEqual(extract_links(html, self.page), ["http://127.0.0.1:8080/p/ok"])
        self.assertEqual(extract_links(b"", self.page), [])
        self.assertEqual(extract_links(b"<a href=7><a href=/x>", "not a url"), [])


class FrontierCases(unittest.TestCase):
    """tests/unit/frontier_test.cpp."""

    authority = "127.0.0.1:4242"

    def at(self, path):
        return "http://%s%s" % (self.authority, path)

    def test_hands_out_the_start_then_each_new_link_once_in_the_order_found(self):
        f = Frontier(self.at("/"), self.authority)
        self.assertEqual(f.next(), self.at("/"))
        self.assertIsNone(f.next())
        self.assertFalse(f.finished())
        f.done([self.at("/p/1"), self.at("/p/2"), self.at("/p/1"), self.at("/")])
        self.assertEqual((f.next(), f.next(), f.in_flight()), (self.at("/p/1"), self.at("/p/2"), 2))
        f.done([self.at("/p/2"), self.at("/p/3")])
        f.done([])
        self.assertEqual(f.next(), self.at("/p/3"))
        f.done([self.at("/p/1")])
        self.assertTrue(f.finished())

    def test_follows_only_the_origin_and_admits_no_more_than_the_budget(self):
        f = Frontier(self.at("/"), self.authority)
        f.next()
        f.done(["http://127.0.0.1:4243/p/1", "http://offsite.test/p/1",
                "https://%s/p/1" % self.authority, self.at("/p/9")])
        self.assertEqual((f.next(), f.next()), (self.at("/p/9"), None))
        f = Frontier(self.at("/"), self.authority, 3)
        f.next()
        f.done([self.at("/p/%d" % i) for i in range(1, 5)])
        self.assertEqual(f.queued(), 2)
        self.assertRaises(RuntimeError, Frontier(self.at("/"), self.authority).done, [])


class Records(unittest.TestCase):
    def test_a_record_line_has_the_cpp_fields_in_the_cpp_order(self):
        a = Attempt("http://127.0.0.1:1/p/\"q\"\\\t", 2, 77, 78, 300, False)
        a.failed("timeout", "no complete response within 300 ms")
        line = a.json_line()
        self.assertTrue(line.endswith("}\n"))
        record = json.loads(line)
        self.assertEqual(list(record), ["url", "attempt", "outcome", "status", "bytes", "checksum",
                                        "start_ns", "first_byte_ns", "end_ns", "lane", "task",
                                        "error"])
        self.assertIsNone(record["first_byte_ns"])
        self.assertEqual(record["checksum"], "2d06800538d394c2", "XXH3-64 of no bytes")
        a = Attempt("http://127.0.0.1:1/p/1", 1, 7, 7, 300, False)
        a.connected()
        a.response(200, b"abc")
        record = json.loads(a.json_line())
        self.assertEqual(list(record), ["url", "attempt", "outcome", "status", "bytes", "checksum",
                                        "start_ns", "connected_ns", "first_byte_ns", "end_ns", "lane",
                                        "task"])
        self.assertEqual((record["outcome"], record["bytes"]), ("ok", 3))

    def test_an_attempt_survives_pickling(self):
        import pickle
        a = Attempt("http://127.0.0.1:1/p/1", 1, 7, 7, 300, True)
        a.failed("reset", "recv: ECONNRESET")
        b = pickle.loads(pickle.dumps(a))
        self.assertEqual(b.json_line(), a.json_line())

    def test_failures_become_the_cpp_outcomes(self):
        def outcome(exc, **kw):
            a = Attempt("http://127.0.0.1:1/p/1", 1, 7, 7, 300, False)
            a.failed_by(exc, **kw)
            return a.outcome, a.error

        self.assertEqual(outcome(TimeoutError()), ("timeout", "no complete response within 300 ms"))
        self.assertEqual(outcome(ConnectionRefusedError(111, "x")), ("connect_error", "connect: ECONNREFUSED"))
        self.assertEqual(outcome(ConnectionResetError(104, "x")), ("reset", "recv: ECONNRESET"))
        self.assertEqual(outcome(http.client.RemoteDisconnected("x"))[0], "truncated")
        self.assertEqual(outcome(http.client.IncompleteRead(b"ab", 3)),
                         ("truncated", "connection closed after 2 of 5 body bytes"))
        self.assertEqual(outcome(http.client.BadStatusLine("HTTX/1.1 2x0 ???"))[0], "malformed")
        self.assertEqual(outcome(TimeoutError(), step="connect")[0], "connect_error")
        self.assertRaises(ValueError, outcome, ValueError("not a transport failure"))

    def test_the_latency_histogram_has_the_cpp_buckets(self):
        h = LatencyHistogram
        self.assertEqual([h.bucket_of(v) for v in (0, 127, 128, 255, 256, 258)], [0, 127, 128, 255, 256, 257])
        self.assertEqual((h.bucket_low(256), h.bucket_width(256)), (256, 2))
        histogram = LatencyHistogram()
        for v in range(1, 1001):
            histogram.record(v)
        self.assertEqual(histogram.summary()["max"], 1000)
        self.assertLessEqual(abs(histogram.percentile(50) - 500), 4)


@have_build
class Options(unittest.TestCase):
    BAD = [
        [], ["--scenario", "x"], ["--scenario", "download", "--concurrency", "0"],
        ["--scenario", "download", "--concurrency", "abc"],
        ["--scenario", "download", "--faults", "foo=1"],
        ["--scenario", "download", "--faults", "reset=0.6,stall=0.6"],
        ["--scenario", "download", "--bogus"], ["--scenario", "download", "--page-bytes", "1000"],
        ["--scenario", "download", "--origin", "foo"], ["--scenario", "download", "--start", "//x"],
        ["--scenario", "download", "--keepalive", "maybe"], ["--scenario", "download", "--seed", "abc"],
        ["--scenario", "download", "--concurrency"], ["--scenario", "download", "--retries", "1", "--retries", "2"],
        ["--scenario", "download"],
        # Numbers are decimal text, in range; --faults and --origin are strict; a FILE is not empty.
        ["--scenario", "download", "--concurrency", "0x10"], ["--scenario", "download", "--concurrency", " 10"],
        ["--scenario", "download", "--concurrency", "1_000"], ["--scenario", "download", "--seed", "-1"],
        ["--scenario", "download", "--seed", "18446744073709551616"],
        ["--scenario", "download", "--faults", ""], ["--scenario", "download", "--faults", "reset=0.1,"],
        ["--scenario", "download", "--faults", "reset=0.1,,stall=0.1"],
        ["--scenario", "download", "--faults", "reset=0x1"], ["--scenario", "download", "--faults", "reset=1_0"],
        ["--scenario", "download", "--faults", "reset=inf"],
        ["--scenario", "download", "--faults", "reset=0.1\nstall=0.1"],
        ["--scenario", "download", "--origin", "[::1]:80"],
        ["--scenario", "download", "--origin", "http://127.0.0.1:80"],
        ["--scenario", "download", "--origin", "01.2.3.4:80"], ["--scenario", "download", "--origin", "127.0.0.1:0x50"],
        ["--scenario", "download", "--origin", "127.0.0.1:1", "--records", ""],
        ["--scenario", "download", "--origin", "127.0.0.1:1", "--out", ""],
        ["--scenario", "download", "--origin", "127.0.0.1:1", "--records="],
        ["--scenario", "download", "--origin", "127.0.0.1:1", "--out", "/nonexistent-dir/o.jsonl"],
    ]

    def test_a_bad_option_gives_the_cpp_one_line_error_and_exit_2(self):
        for args in self.BAD:
            with self.subTest(args=args):
                cpp = subprocess.run([str(BIN / "rosetta-blocking"), *args], capture_output=True, text=True)
                ours = subprocess.run([*PEER, "py-threads", *args], capture_output=True, text=True)
                self.assertEqual(ours.returncode, 2)
                self.assertEqual(cpp.returncode, 2)
                self.assertEqual(ours.stderr.replace("rosetta-py-threads", "rosetta-blocking"), cpp.stderr)
                self.assertEqual(ours.stdout, "")

    def test_a_refused_command_line_leaves_no_file_behind(self):
        with tempfile.TemporaryDirectory() as scratch:
            out = os.path.join(scratch, "o.jsonl")
            for bad in (["--records", os.path.join(scratch, "missing", "r.jsonl")], ["--concurrency", "0"]):
                with self.subTest(bad=bad):
                    ran = subprocess.run([*PEER, "py-threads", "--scenario", "download", "--origin", "127.0.0.1:1",
                                          "--out", out, *bad], capture_output=True, text=True)
                    self.assertEqual(ran.returncode, 2, ran.stderr)
                    self.assertEqual(os.listdir(scratch), [])

    def test_help_exits_0_and_an_unknown_peer_exits_2(self):
        shown = subprocess.run([*PEER, "py-threads", "--help"], capture_output=True, text=True)
        self.assertEqual(shown.returncode, 0)
        self.assertIn("--concurrency INT:INT in [1 - 1000000]=100", shown.stdout)
        cpp = subprocess.run([str(BIN / "rosetta-blocking"), "--help"], capture_output=True, text=True)
        for option in ("--origin", "--faults", "--seed"):
            with self.subTest(option=option):
                line = next(line for line in cpp.stdout.splitlines() if line.startswith("  " + option))
                self.assertIn(line, shown.stdout.splitlines())
        unknown = subprocess.run([*PEER, "py-nothing", "--scenario", "download"], capture_output=True, text=True)
        self.assertEqual(unknown.returncode, 2)
        self.assertEqual(len(unknown.stderr.splitlines()), 1)


@have_build
class Verified(unittest.TestCase):
    FAULTS = "reset=0.02,stall=0.01,status=0.03,notfound=0.02,truncate=0.02,malformed=0.02,slow=0.01"

    def test_py_threads_crawls_under_every_fault_and_the_harness_verifies_it(self):
        if not (BIN / "rosetta-py-threads").exists():
            self.skipTest("build/bin/rosetta-py-threads is not there")
        run = subprocess.run([str(BIN / "rosetta"), "run", "--model", "py-threads", "--scenario", "crawl",
                              "--pages", "150", "--concurrency", "8", "--faults", self.FAULTS,
                              "--timeout-ms", "250", "--json"], capture_output=True, text=True, timeout=60)
        result = json.loads(run.stdout.strip().splitlines()[-1])
        self.assertTrue(result["verified"], result.get("mismatches"))
        self.assertIsNone(result["failure"])


if __name__ == "__main__":
    unittest.main()
