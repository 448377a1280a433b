"""reports/rosetta_report/timeline.py: the timeline page, its charts and the Chrome traces.

Run from the repository root with the interpreter that has matplotlib (Debian's):
    python3 -m unittest discover -s tests/report -t .
ROSETTA_BIN_DIR=build/bin also runs a real crawl through the harness.
"""

import contextlib
import importlib.util
import io
import json
import os
import pathlib
import tempfile
import unittest
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = pathlib.Path(__file__).resolve().parent / "fixture-records"
MODELS = ["event-driven", "threads"]

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def load_timeline():
    # By path: the package's __init__ may not exist, and the module needs nothing from it.
    spec = importlib.util.spec_from_file_location(
        "rosetta_timeline", ROOT / "reports" / "rosetta_report" / "timeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture_records(model):
    with open(FIXTURE / f"{model}.jsonl", encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def phase_count(record):
    # connect only on a new connection, read only once a byte arrived; the wait always.
    return 1 + bool(record.get("connected_ns")) + (record.get("first_byte_ns") is not None)


@unittest.skipUnless(HAVE_MATPLOTLIB, "matplotlib is not installed for this interpreter")
class TimelineFromFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.timeline = load_timeline()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = pathlib.Path(cls.tmp.name) / "out"
        cls.written = cls.timeline.write_timelines(
            cls.out, MODELS, bin_dir=pathlib.Path(cls.tmp.name) / "no-bin", records_dir=FIXTURE)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_fixture_is_what_it_claims(self):
        event = fixture_records("event-driven")
        self.assertEqual(len({r["lane"] for r in event}), 1)
        self.assertEqual(len({r["task"] for r in event}), 4)
        threads = fixture_records("threads")
        self.assertEqual(len({r["lane"] for r in threads}), 4)
        self.assertTrue(all(r["lane"] == r["task"] for r in threads))

    def test_page_has_a_section_per_model(self):
        page = self.out / "timeline.html"
        self.assertIn(page, self.written)
        text = page.read_text(encoding="utf-8")
        for model in MODELS:
            self.assertIn(f'id="timeline-{model}"', text)
            self.assertIn(f'href="index.html#model-{model}"', text)
            self.assertIn(f'href="trace-{model}.json"', text)
        self.assertIn("1 lane, 4 tasks", text)
        self.assertIn("4 lanes, 4 tasks", text)
        self.assertFalse((self.out / "records").exists(), "ran something despite the fixture")

    def test_svgs_parse(self):
        for model in MODELS:
            svg = self.out / f"timeline-{model}.svg"
            self.assertIn(svg, self.written)
            root = ET.parse(svg).getroot()
            self.assertTrue(root.tag.endswith("svg"))
            # Text stays text (svg.fonttype none): the lane labels are searchable.
            self.assertIn("lane 1", svg.read_text(encoding="utf-8"))

    def test_traces(self):
        for model in MODELS:
            path = self.out / f"trace-{model}.json"
            self.assertIn(path, self.written)
            trace = json.loads(path.read_text(encoding="utf-8"))
            self.assertIn("traceEvents", trace)
            complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
            records = fixture_records(model)
            self.assertEqual(len(complete), sum(phase_count(r) for r in records))
            for event in complete:
                self.assertGreaterEqual(event["ts"], 0)
                self.assertGreaterEqual(event["dur"], 0)
                self.assertIn(event["name"], ("connect", "wait", "read"))
                for key in ("url", "attempt", "outcome", "task"):
                    self.assertIn(key, event["args"])
            self.assertEqual(sorted(e["args"]["outcome"] for e in complete if e["name"] == "wait"),
                             sorted(r["outcome"] for r in records))
            names = [e["args"]["name"] for e in trace["traceEvents"]
                     if e["ph"] == "M" and e["name"] == "thread_name"]
            lanes = {r["lane"] for r in records}
            for number, lane in enumerate(sorted(lanes, key=lambda l: min(
                    r["start_ns"] for r in records if r["lane"] == l)), start=1):
                self.assertTrue(any(n.startswith(f"lane {number} ") and str(lane) in n
                                    for n in names), f"no thread named for lane {lane}: {names}")
            # Every X event sits on a named track.
            named = {e["tid"] for e in trace["traceEvents"]
                     if e["ph"] == "M" and e["name"] == "thread_name"}
            self.assertLessEqual({e["tid"] for e in complete}, named)

    def test_missing_model_gets_a_section_not_a_crash(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp)
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr):
                written = self.timeline.write_timelines(
                    out, ["event-driven", "absent"], bin_dir=out / "no-bin", records_dir=FIXTURE)
            self.assertEqual(len(stderr.getvalue().splitlines()), 1, stderr.getvalue())
            self.assertIn("absent", stderr.getvalue())
            self.assertEqual({p.name for p in written},
                             {"timeline.html", "timeline-event-driven.svg", "trace-event-driven.json"})
            self.assertIn('id="timeline-absent"', (out / "timeline.html").read_text(encoding="utf-8"))


BIN_DIR = os.environ.get("ROSETTA_BIN_DIR")


@unittest.skipUnless(BIN_DIR and (pathlib.Path(BIN_DIR) / "rosetta").is_file(),
                     "ROSETTA_BIN_DIR does not name a directory holding rosetta")
@unittest.skipUnless(HAVE_MATPLOTLIB, "matplotlib is not installed for this interpreter")
class CollectFromHarness(unittest.TestCase):
    def test_collect_records(self):
        import subprocess
        bin_dir = pathlib.Path(BIN_DIR)
        built = subprocess.run([str(bin_dir / "rosetta"), "models", "--built"], check=True,
                               capture_output=True, text=True, timeout=60).stdout.split()
        model = "epoll-callbacks" if "epoll-callbacks" in built else built[0]
        with tempfile.TemporaryDirectory() as tmp:
            found = load_timeline().collect_records(bin_dir, pathlib.Path(tmp) / "records", [model])
            self.assertIn(model, found)
            lines = found[model].read_text(encoding="utf-8").splitlines()
            self.assertGreaterEqual(len(lines), 30)
            self.assertIn("start_ns", json.loads(lines[0]))


if __name__ == "__main__":
    unittest.main()
