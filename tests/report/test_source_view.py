"""The source pages, generated from the repository's real model files."""

import contextlib
import importlib.util
import io
import pathlib
import sys
import tempfile
import unittest
from html.parser import HTMLParser

REPO = pathlib.Path(__file__).resolve().parents[2]


def load_source_view():
    sys.path.insert(0, str(REPO / "reports"))
    try:
        import rosetta_report.source_view as module  # the package, once it has its __init__
        return module
    except ImportError:
        path = REPO / "reports" / "rosetta_report" / "source_view.py"
        spec = importlib.util.spec_from_file_location("source_view", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


source_view = load_source_view()


class Page(HTMLParser):
    """What the tests look at: columns, rows of cells, line classes, links."""

    def __init__(self):
        super().__init__()
        self.columns = []  # data-model of each column header
        self.rows = {}  # data-piece -> {model: non-empty?}
        self.line_classes = {}  # model -> [class sets of its lines]
        self.links = []
        self.styles = 0
        self.external = []  # anything the page would fetch
        self._row = None
        self._model = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if tag == "style":
            self.styles += 1
        if tag in ("script", "img", "link") and (a.get("src") or a.get("rel") == "stylesheet"):
            self.external.append(a)
        if tag == "a":
            self.links.append(a.get("href"))
        if tag == "th" and "model" in classes:
            self.columns.append(a["data-model"])
        if tag == "tr" and "piece" in classes:
            self._row = self.rows.setdefault(a["data-piece"], {})
        if tag == "td" and "cell" in classes:
            self._model = a["data-model"]
            self._row[self._model] = "empty" not in classes
        if tag == "span" and "ln" in classes:
            self.line_classes.setdefault(self._model, []).append(classes)


def parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


class SourceViewTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.models = source_view.default_models(REPO)
        cls.paths = source_view.write_source_views(REPO, pathlib.Path(cls.tmp.name), cls.models)
        cls.pages = {p.name: parse(p) for p in cls.paths}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_both_pages_are_written_and_returned(self):
        names = [p.name for p in self.paths]
        self.assertEqual(names, ["source-crawl.html", "source-download.html"])
        for path in self.paths:
            self.assertTrue(path.is_file())

    def test_every_model_with_a_crawl_has_a_column_blocking_first(self):
        found = sorted(p.parent.name for p in (REPO / "models").glob("*/crawl.cpp"))
        self.assertEqual(sorted(self.models), found)
        self.assertEqual(self.models[0], "blocking")
        for page in self.pages.values():
            self.assertEqual(page.columns, self.models)

    def test_the_entry_point_row_holds_every_model(self):
        for scenario in ("crawl", "download"):
            row = self.pages[f"source-{scenario}.html"].rows[scenario]
            self.assertEqual(row, {m: True for m in self.models}, scenario)
            opening = self.pages[f"source-{scenario}.html"].rows["(opening)"]
            self.assertTrue(all(opening.values()))

    def test_shared_helpers_sit_on_one_row(self):
        row = self.pages["source-crawl.html"].rows["fetch_and_report"]
        self.assertTrue(row["thread-per-task"] and row["stackless-coroutines"])
        self.assertFalse(row["blocking"])  # an empty, greyed cell

    def test_every_model_marks_where_it_waits_on_each_page(self):
        for name, page in self.pages.items():
            for model in self.models:
                marked = [c for c in page.line_classes[model] if "sp" in c]
                self.assertTrue(marked, f"{model} in {name} has no suspension marker")

    def test_blockings_fetch_is_marked_as_a_kernel_wait(self):
        for scenario in ("crawl", "download"):
            lines = (REPO / f"models/blocking/{scenario}.cpp").read_text().splitlines()
            code = source_view.code_lines(lines)
            kinds = [source_view.marker("blocking", c) for c in code if "fetch_url(" in c]
            self.assertTrue(kinds)
            self.assertTrue(all(rule and rule.kind == "kernel" for rule in kinds))

    def test_each_waiting_style_is_marked_with_its_own_kind(self):
        page = self.pages["source-crawl.html"]
        expected = {"thread-per-task": "sp-kernel", "epoll-callbacks": "sp-callback",
                    "stackful-fibers": "sp-fiber", "boost-fibers": "sp-fiber",
                    "stackless-coroutines": "sp-await"}
        for model, kind in expected.items():
            if model in self.models:
                self.assertTrue(any(kind in c for c in page.line_classes[model]), model)

    def test_lines_are_classed_against_blocking(self):
        for page in self.pages.values():
            classes = set().union(*(c for m in self.models for c in page.line_classes[m]))
            self.assertTrue({"same", "diff", "ref"} <= classes)
            # blocking is the reference: none of its lines is dimmed by the toggle
            self.assertFalse(any("same" in c for c in page.line_classes["blocking"]))

    def test_each_column_links_its_file_and_its_numbers(self):
        for name, page in self.pages.items():
            scenario = name.removeprefix("source-").removesuffix(".html")
            for model in self.models:
                self.assertIn(f"index.html#model-{model}", page.links)
                self.assertIn(f"models/{model}/{scenario}.cpp", page.links)

    def test_self_contained_one_style_block_no_machine_paths(self):
        for path in self.paths:
            page, text = self.pages[path.name], path.read_text(encoding="utf-8")
            self.assertEqual(page.styles, 1)
            self.assertEqual(page.external, [])
            self.assertIn('id="only-diff"', text)
            self.assertNotIn(str(REPO), text)
            self.assertNotIn(self.tmp.name, text)

    def test_a_file_splits_into_its_top_level_pieces(self):
        lines = [
            "// story", "#include <x>", "", "namespace rosetta {", "", "namespace {", "",
            "using namespace a;", "using B = int;", "", "constexpr int size = 64;", "",
            "// the comment above", "struct Lane {", "    int x;", "};", "",
            "void helper(int a,", "            int b) {", '    f("}");', "}", "",
            "}  // namespace", "", "Failure crawl(const Run& run) {", "    return {};", "}", "",
            "}  // namespace rosetta",
        ]
        pieces = source_view.pieces_of(lines)
        self.assertEqual([(p.key, p.start, p.end) for p in pieces],
                         [("(opening)", 0, 2), ("using", 7, 9), ("size", 10, 11),
                          ("Lane", 12, 16), ("helper", 17, 21), ("crawl", 24, 27)])

    def test_rows_follow_the_first_file_then_new_names_where_they_appear(self):
        P = source_view.Piece
        first = [P("(opening)", "", 0, 1), P("crawl", "", 1, 2)]
        second = [P("(opening)", "", 0, 1), P("Shared", "", 1, 2), P("crawl", "", 2, 3)]
        self.assertEqual(source_view.union_order([first, second]),
                         ["(opening)", "Shared", "crawl"])

    def test_the_script_form_writes_the_pages(self):
        with tempfile.TemporaryDirectory() as out:
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                status = source_view.main(["--out", out, "boost-fibers", "blocking"])
            self.assertEqual(status, 0)
            self.assertIn("source-crawl.html", printed.getvalue())
            page = parse(pathlib.Path(out) / "source-download.html")
            self.assertEqual(page.columns, ["blocking", "boost-fibers"])


if __name__ == "__main__":
    unittest.main()
