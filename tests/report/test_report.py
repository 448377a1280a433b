"""scripts/report over a small results file: the charts are SVG, every link of the page leads
somewhere, every model has its anchor, a rerun writes the same bytes, and a bad input is one
line on stderr and exit 2."""
import html.parser
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "report"
FIXTURE = Path(__file__).resolve().parent / "fixture"
RESULTS = FIXTURE / "results.jsonl"
MICRO = FIXTURE / "micro.json"
MODELS = ["blocking", "thread-per-task", "epoll-callbacks", "stackless-coroutines"]
CHARTS = [f"{kind}-{group}.svg" for kind in ("throughput", "p99", "memory", "cpu")
          for group in ("download-L10", "crawl-L10")] + ["micro-spawn.svg", "micro-switch.svg"]


def report(*args: str) -> subprocess.CompletedProcess:
    bin_dir = os.environ.get("ROSETTA_BIN_DIR")
    extra = ["--bin", bin_dir] if bin_dir else []
    return subprocess.run([str(SCRIPT), *args, *extra], capture_output=True, text=True,
                          timeout=600)


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.targets.append(value)
            if name == "id":
                self.ids.add(value)


class ReportOfTheFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = Path(cls.tmp.name) / "report"
        cls.outcome = report(str(RESULTS), "--micro", str(MICRO), "--out", str(cls.out),
                         "--no-timelines")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_it_exits_0_and_names_the_page_last(self):
        self.assertEqual(self.outcome.returncode, 0, self.outcome.stderr)
        self.assertEqual(self.outcome.stdout.splitlines()[-1], f"report: {self.out}/index.html")

    def test_every_chart_is_an_svg_file(self):
        for name in CHARTS:
            with self.subTest(chart=name):
                root = ElementTree.parse(self.out / name).getroot()
                self.assertTrue(root.tag.endswith("svg"), root.tag)

    def test_every_link_of_the_page_resolves_offline(self):
        page = Links()
        page.feed((self.out / "index.html").read_text(encoding="utf-8"))
        self.assertTrue(page.targets)
        for target in page.targets:
            with self.subTest(link=target):
                if re.match(r"https?:", target):
                    continue
                if target.startswith("#"):
                    self.assertIn(target[1:], page.ids)
                else:
                    self.assertTrue((self.out / target.split("#")[0]).is_file())

    def test_every_model_has_an_anchor_other_pages_can_link_to(self):
        page = Links()
        page.feed((self.out / "index.html").read_text(encoding="utf-8"))
        for model in MODELS:
            self.assertIn(f"model-{model}", page.ids)

    def test_the_failure_and_the_saturation_are_named(self):
        text = (self.out / "index.html").read_text(encoding="utf-8")
        self.assertIn("timeout: 12 of 1,012 attempts (1.2%)", text)
        self.assertIn("saturated at C=10: 3 in flight at most", text)
        self.assertIn("3.1 (0.99)", text)  # the matrix's own memory fit, not one made again

    def test_the_markdown_report_links_the_charts(self):
        markdown = (self.out / "report.md").read_text(encoding="utf-8")
        for name in CHARTS:
            self.assertIn(f"]({name})", markdown)

    def test_pages_written_without_them_are_not_linked(self):
        text = (self.out / "index.html").read_text(encoding="utf-8")
        self.assertEqual((self.out / "timeline.html").exists(), 'href="timeline.html"' in text)

    def test_a_rerun_writes_the_same_svg_bytes_and_leaves_other_files_alone(self):
        before = {name: (self.out / name).read_bytes() for name in CHARTS}
        again = Path(self.tmp.name) / "again"
        shutil.copytree(self.out, again)
        (again / "notes.txt").write_text("mine\n")
        run = report(str(RESULTS), "--micro", str(MICRO), "--out", str(again), "--no-timelines")
        self.assertEqual(run.returncode, 0, run.stderr)
        for name in CHARTS:
            with self.subTest(chart=name):
                self.assertEqual((again / name).read_bytes(), before[name])
        self.assertTrue((again / "notes.txt").is_file())


class BadInputs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def refused(self, *args: str) -> str:
        run = report(*args, "--out", str(self.dir / "out"), "--no-timelines")
        self.assertEqual(run.returncode, 2, run.stdout + run.stderr)
        lines = run.stderr.splitlines()
        self.assertEqual(len(lines), 1, run.stderr)
        self.assertFalse((self.dir / "out" / "index.html").exists())
        return lines[0]

    def file(self, name: str, text: str) -> str:
        (self.dir / name).write_text(text)
        return str(self.dir / name)

    def test_a_missing_file_is_named(self):
        self.assertIn("missing.jsonl", self.refused(str(self.dir / "missing.jsonl")))

    def test_an_empty_file_has_no_result_lines(self):
        self.assertIn("no result lines", self.refused(self.file("empty.jsonl", "")))

    def test_a_line_that_is_not_json_is_named_by_its_number(self):
        good = RESULTS.read_text().splitlines()[0]
        line = self.refused(self.file("garbage.jsonl", good + "\n{not json\n"))
        self.assertIn("garbage.jsonl:2", line)

    def test_fits_alone_are_not_results(self):
        fit = RESULTS.read_text().splitlines()[-1]
        self.assertIn("no result lines", self.refused(self.file("fits.jsonl", fit + "\n")))

    def test_a_micro_file_that_is_not_google_benchmark_json_is_refused(self):
        line = self.refused(str(RESULTS), "--micro", self.file("micro.json", "[1, 2]"))
        self.assertIn("micro.json", line)


if __name__ == "__main__":
    unittest.main()
