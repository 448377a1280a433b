"""reports/rosetta_report/peers.py: the Python peers beside the C++ models they stand beside.
On result lines written here: the pairing by peer_of, the ratios, the table's numbers, a run
that is not good shown as such (never as a number), and the section only when there are
peers.

Run from the repository root with the interpreter that has matplotlib (Debian's):
    /usr/bin/python3 -m unittest discover -s tests/report -t .
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "report"
FIXTURE = Path(__file__).resolve().parent / "fixture" / "results.jsonl"
sys.path.insert(0, str(REPO / "reports"))

from rosetta_report import load, peers  # noqa: E402  (after the path is set)

MEMORY_GUARD = ("memory guard: the run held 11,912 MiB, more than 0.5 of the 23,800 MiB "
                "available when it started (--memory-guard)")


def result(model, scenario="download", concurrency=1000, latency_ms=50, rps=1000.0,
           p99_ms=100.0, rss_mib=10.0, peer_of=None, **changes):
    """One result line as the harness writes it, with the numbers these tests read."""
    line = {"model": model, "scenario": scenario, "concurrency": concurrency,
            "latency_ms": latency_ms, "threads": 1, "pages": 5 * concurrency,
            "completed": True, "verified": True, "failure": None, "throughput_rps": rps,
            "latency_us": {"p50": p99_ms * 500, "p90": p99_ms * 800, "p99": p99_ms * 1000,
                           "p999": p99_ms * 1000, "max": p99_ms * 1000},
            "peak_rss_kib": rss_mib * 1024, "peak_inflight": concurrency,
            "kernel_kib": {"stack": 0, "slab": 0, "sockets": 0}, "cpu_user_s": 1.0,
            "cpu_sys_s": 0.5, "requests": 5 * concurrency, "urls": 5 * concurrency,
            "matrix": {"preset": "peers", "repeat": 1}}
    if peer_of:
        line["peer_of"] = peer_of
    line.update(changes)
    return line


def at_both_points(model, fast, waiting, **kwargs):
    """The model at C=1,000 / 50 ms (waiting) and C=100 / 0 ms (fast), both scenarios alike:
    each of fast and waiting is (req/s, p99 ms, RSS MiB)."""
    lines = []
    for scenario in ("download", "crawl"):
        for (concurrency, latency_ms), (rps, p99_ms, rss_mib) in (((1000, 50), waiting),
                                                                   ((100, 0), fast)):
            lines.append(result(model, scenario, concurrency, latency_ms, rps, p99_ms, rss_mib,
                                **kwargs))
    return lines


# Four models of ours, three with peers; io-uring beside the coroutines; a peer that failed at
# one point, one that was skipped, one that ran but was found wrong.
RUNS = (
    at_both_points("stackless-coroutines", (40000, 4.0, 10.0), (20000, 80.0, 32.0)) +
    at_both_points("io-uring", (50000, 3.0, 8.0), (19000, 85.0, 30.0)) +
    at_both_points("epoll-callbacks", (36000, 5.0, 9.0), (18000, 90.0, 28.0)) +
    at_both_points("thread-pool", (15000, 10.0, 30.0), (9000, 180.0, 90.0)) +
    at_both_points("py-asyncio", (5000, 25.0, 50.0), (2500, 320.0, 160.0),
                   peer_of="stackless-coroutines") +
    at_both_points("py-trio", (2500, 50.0, 40.0), (1250, 700.0, 120.0),
                   peer_of="stackless-coroutines") +
    at_both_points("py-tornado", (3000, 40.0, 27.0), (1500, 600.0, 84.0),
                   peer_of="epoll-callbacks"))
# py-threads: good at C=100, stopped by the memory guard at C=1,000 (after 300 req/s).
RUNS += [result("py-threads", "download", 100, 0, 1875.0, 90.0, 90.0, peer_of="thread-pool"),
         result("py-threads", "download", 1000, 50, 300.0, 900.0, 4000.0, peer_of="thread-pool",
                completed=False, verified=None, failure=MEMORY_GUARD)]
# The crawl: py-tornado found wrong at C=1,000, py-trio skipped there.
for line in RUNS:
    if line["scenario"] == "crawl" and line["concurrency"] == 1000:
        if line["model"] == "py-tornado":
            line.update(verified=False, failure="timeout: 640 of 5,212 attempts (12%)")
        if line["model"] == "py-trio":
            line.update(completed=False, verified=None, skipped=True, throughput_rps=0.0,
                        failure="py-trio: skipped: python3-trio is not installed")

WAITING = peers.Point(1000, 50.0)
FAST = peers.Point(100, 0.0)


def results_of(runs, models=None):
    results = load.Results(runs, [], [], [runs])
    results.models = models or load.order_models(list(dict.fromkeys(r["model"] for r in runs)),
                                                 [])
    return results


def rows_as_text(table):
    return [[cell.text for cell in row] for row in table.rows]


class PairingByPeerOf(unittest.TestCase):
    def test_each_model_has_the_peers_whose_lines_name_it_in_the_reports_order(self):
        self.assertEqual(peers.peers_of(RUNS, results_of(RUNS).models), {
            "thread-pool": ["py-threads"],
            "epoll-callbacks": ["py-tornado"],
            "stackless-coroutines": ["py-asyncio", "py-trio"]})

    def test_a_group_is_its_model_then_io_uring_beside_the_coroutines_then_its_peers(self):
        groups = peers.comparison(results_of(RUNS), "download", WAITING)
        self.assertEqual([[(e.model, e.kind) for e in g.entries] for g in groups], [
            [("thread-pool", "model"), ("py-threads", "peer")],
            [("epoll-callbacks", "model"), ("py-tornado", "peer")],
            [("stackless-coroutines", "model"), ("io-uring", "ours"), ("py-asyncio", "peer"),
             ("py-trio", "peer")]])

    def test_each_entry_is_the_run_at_its_point(self):
        for point, concurrency, latency in ((WAITING, 1000, 50), (FAST, 100, 0)):
            for group in peers.comparison(results_of(RUNS), "crawl", point):
                for entry in group.entries:
                    with self.subTest(point=point, model=entry.model):
                        self.assertEqual((entry.run["model"], entry.run["scenario"],
                                          entry.run["concurrency"], entry.run["latency_ms"]),
                                         (entry.model, "crawl", concurrency, latency))

    def test_a_model_without_peers_and_io_uring_without_its_coroutines_form_no_group(self):
        runs = [r for r in RUNS if r["model"] not in ("stackless-coroutines", "py-asyncio",
                                                      "py-trio")]
        groups = peers.comparison(results_of(runs), "download", FAST)
        self.assertEqual([g.model for g in groups], ["thread-pool", "epoll-callbacks"])
        self.assertNotIn("io-uring", [e.model for g in groups for e in g.entries])

    def test_results_without_peers_have_no_groups_and_no_chart(self):
        runs = [r for r in RUNS if "peer_of" not in r]
        self.assertEqual(peers.peers_of(runs, []), {})
        with tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(peers.write_charts(results_of(runs), Path(tmp)), [])
            self.assertEqual(os.listdir(tmp), [])

    def test_a_peer_whose_model_did_not_run_is_beside_a_model_with_no_run(self):
        runs = [r for r in RUNS if r["model"] not in ("epoll-callbacks",)]
        group = next(g for g in peers.comparison(results_of(runs), "download", FAST)
                     if g.model == "epoll-callbacks")
        self.assertEqual((group.base.run, group.base.status), (None, "no run"))
        self.assertIsNone(group.rps_ratio(group.entries[1]))


class Ratios(unittest.TestCase):
    def group(self, scenario, point, model):
        return next(g for g in peers.comparison(results_of(RUNS), scenario, point)
                    if g.model == model)

    def test_req_s_of_the_model_over_the_peers_and_rss_of_the_peer_over_the_models(self):
        group = self.group("download", WAITING, "stackless-coroutines")
        by_model = {e.model: e for e in group.entries}
        self.assertEqual(group.rps_ratio(by_model["py-asyncio"]), 20000 / 2500)  # 8
        self.assertEqual(group.rss_ratio(by_model["py-asyncio"]), 160 / 32)  # 5
        self.assertEqual(group.rps_ratio(by_model["py-trio"]), 16.0)
        self.assertEqual(group.rps_ratio(by_model["io-uring"]), 20000 / 19000)
        fast = self.group("download", FAST, "stackless-coroutines")
        self.assertEqual(fast.rps_ratio(fast.entries[1]), 0.8)  # io-uring: 50,000 vs 40,000

    def test_a_bar_reads_as_a_share_of_its_models_req_s(self):
        self.assertEqual(peers.times(2500 / 20000), "÷8.0")
        self.assertEqual(peers.times(1000 / 12000), "÷12")
        self.assertEqual(peers.times(50000 / 40000 + 0.05), "×1.3")
        self.assertEqual(peers.times(1.0), "×1.0")

    def test_a_run_that_is_not_good_has_no_ratio(self):
        group = self.group("download", WAITING, "thread-pool")
        threads = group.entries[1]
        self.assertEqual((threads.status, threads.rps, threads.rss_mib), ("failed", None, None))
        self.assertIsNone(group.rps_ratio(threads))
        self.assertIsNone(group.rss_ratio(threads))


class Table(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        results = results_of(RUNS)
        cls.models = results.models
        cls.waiting = peers.table(peers.comparison(results, "download", WAITING), cls.models)
        cls.fast = peers.table(peers.comparison(results, "download", FAST), cls.models)
        cls.crawl = peers.table(peers.comparison(results, "crawl", WAITING), cls.models)

    def test_the_columns(self):
        self.assertEqual(self.waiting.headers, [
            "C++ model", "req/s", "p99 ms", "RSS MiB", "beside it", "req/s", "p99 ms",
            "RSS MiB", "req/s C++/peer", "RSS peer/C++", "note"])

    def test_a_row_per_entry_beside_a_model_with_their_numbers_and_ratios(self):
        self.assertEqual(rows_as_text(self.fast), [
            ["thread-pool", "15,000", "10.0", "30.0", "py-threads", "1,875", "90.0", "90.0",
             "8.00", "3.00", "-"],
            ["epoll-callbacks", "36,000", "5.0", "9.0", "py-tornado", "3,000", "40.0", "27.0",
             "12.0", "3.00", "-"],
            ["stackless-coroutines", "40,000", "4.0", "10.0", "io-uring (ours)", "50,000",
             "3.0", "8.0", "0.80", "0.80", "-"],
            ["stackless-coroutines", "40,000", "4.0", "10.0", "py-asyncio", "5,000", "25.0",
             "50.0", "8.00", "5.00", "-"],
            ["stackless-coroutines", "40,000", "4.0", "10.0", "py-trio", "2,500", "50.0",
             "40.0", "16.0", "4.00", "-"]])

    def test_numbers_sort_by_their_value(self):
        asyncio = self.waiting.rows[3]
        self.assertEqual([c.sort for c in asyncio[5:10]], [2500.0, 320.0, 160.0, 8.0, 5.0])

    def test_a_failed_peer_is_shown_as_failed_with_its_reason_not_as_a_number(self):
        row = rows_as_text(self.waiting)[0]
        self.assertEqual(row[:10], ["thread-pool", "9,000", "180.0", "90.0", "py-threads",
                                    "failed", "-", "-", "-", "-"])
        self.assertEqual(row[10], f"py-threads: {MEMORY_GUARD}")
        for text in row[5:10]:  # not the 300 req/s nor the 4,000 MiB it reached first
            self.assertNotIn("300", text)
            self.assertNotIn("4,000", text)

    def test_skipped_and_unverified_peers_are_named_so(self):
        rows = {row[4]: row for row in rows_as_text(self.crawl)}
        self.assertEqual(rows["py-trio"][5:11], [
            "skipped", "-", "-", "-", "-", "py-trio: skipped: python3-trio is not installed"])
        self.assertEqual(rows["py-tornado"][5:11], [
            "not verified", "-", "-", "-", "-", "py-tornado: timeout: 640 of 5,212 attempts "
            "(12%)"])

    def test_names_link_to_the_models_section(self):
        self.assertEqual([(c.text, c.link) for c in self.fast.rows[2][:5:4]],
                         [("stackless-coroutines", "#model-stackless-coroutines"),
                          ("io-uring (ours)", "#model-io-uring")])


def report(*args):
    bin_dir = os.environ.get("ROSETTA_BIN_DIR")
    extra = ["--bin", bin_dir] if bin_dir else []
    return subprocess.run([str(SCRIPT), *args, "--no-timelines", *extra], capture_output=True,
                          text=True, timeout=600)


def svg_texts(path):
    return [t.text or "" for t in ElementTree.parse(path).getroot().iter()
            if t.tag.endswith("text")]


class ReportWithPeers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.results = cls.dir / "peers.jsonl"
        cls.results.write_text("".join(json.dumps(r) + "\n" for r in RUNS))
        cls.out = cls.dir / "report"
        cls.outcome = report(str(cls.results), "--out", str(cls.out))
        cls.html = (cls.out / "index.html").read_text(encoding="utf-8")
        cls.markdown = (cls.out / "report.md").read_text(encoding="utf-8")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_it_exits_0(self):
        self.assertEqual(self.outcome.returncode, 0, self.outcome.stderr)

    def test_a_chart_per_scenario_with_a_panel_per_point(self):
        for scenario in ("download", "crawl"):
            with self.subTest(scenario=scenario):
                texts = svg_texts(self.out / f"peers-{scenario}.svg")
                self.assertIn(f"C++ models beside their Python peers — {scenario}", texts)
                self.assertIn("C=1,000, 50 ms think time", texts)
                self.assertIn("C=100, 0 ms think time", texts)

    def test_the_bars_carry_the_ratio_and_a_failure_its_number_and_reason(self):
        texts = svg_texts(self.out / "peers-download.svg")
        self.assertIn("2,500  ÷8.0", texts)  # py-asyncio beside the coroutines' 20,000
        self.assertIn("50,000  ×1.2", texts)  # io-uring beside their 40,000 at C=100
        self.assertIn("failed [1]", texts)
        notes = next(t for t in texts if t.startswith("[1]"))
        self.assertIn("[1] py-threads at C=1,000, 50 ms think time: memory guard", notes)

    def test_a_rerun_writes_the_same_chart_bytes(self):
        again = self.dir / "again"
        self.assertEqual(report(str(self.results), "--out", str(again)).returncode, 0)
        for scenario in ("download", "crawl"):
            with self.subTest(scenario=scenario):
                self.assertEqual((again / f"peers-{scenario}.svg").read_bytes(),
                                 (self.out / f"peers-{scenario}.svg").read_bytes())

    def test_the_page_has_the_section_with_the_chart_and_the_tables(self):
        self.assertIn('<a href="#peers">Python peers</a>', self.html)
        self.assertIn('<h2 id="peers">Python peers</h2>', self.html)
        self.assertIn('<img src="peers-download.svg"', self.html)
        self.assertIn("<h3>download, C=1,000, 50 ms think time</h3>", self.html)
        self.assertIn('<td class="n" data-v="8.0">8.00</td>', self.html)
        self.assertIn("<td>failed</td>", self.html)

    def test_the_markdown_has_the_same_section_and_tables(self):
        self.assertIn("## Python peers", self.markdown)
        self.assertIn("![C++ models beside their Python peers — crawl](peers-crawl.svg)",
                      self.markdown)
        self.assertIn("### crawl, C=100, 0 ms think time", self.markdown)
        self.assertIn("| stackless-coroutines | 20,000 | 80.0 | 32.0 | py-asyncio | 2,500 | "
                      "320.0 | 160.0 | 8.00 | 5.00 | - |", self.markdown)


class ReportWithoutPeers(unittest.TestCase):
    def test_has_no_peers_section_and_no_peers_chart(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "report"
            outcome = report(str(FIXTURE), "--out", str(out))
            self.assertEqual(outcome.returncode, 0, outcome.stderr)
            html = (out / "index.html").read_text(encoding="utf-8")
            markdown = (out / "report.md").read_text(encoding="utf-8")
            self.assertNotIn('id="peers"', html)
            self.assertNotIn("Python peers", html + markdown)
            self.assertEqual(sorted(out.glob("peers-*")), [])


if __name__ == "__main__":
    unittest.main()
