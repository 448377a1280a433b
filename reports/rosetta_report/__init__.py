"""The report of a Concurrency Rosetta matrix: scripts/report is its entry point.

load: read and check results and micro-benchmark files, and what their numbers mean;
charts: the SVG charts; page: index.html and report.md. source_view and timeline add the
side-by-side source pages and the per-model timelines beside them."""
