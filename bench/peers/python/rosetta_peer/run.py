"""What a peer is given -- scenarios/model.hpp's ModelRun in Python.

The spec, the origin, the download order, the crawl's start and frontier, and where attempts
go: run.attempt() starts one (its clock starts), run.record() ends it, deciding by the C++
RetryPolicy whether the URL gets another attempt. Shared by all of a peer's threads (read-only
but for the recorder, which is thread-safe).
"""

import itertools
import threading

from .frontier import Frontier
from .records import Attempt, is_retryable, monotonic_ns
from .site import download_paths
from .url import absolute_url, request_target

__all__ = ["Run"]

USER_AGENT = "concurrency-rosetta"


class Run:
    def __init__(self, spec, recorder, peer_id=""):
        self.spec = spec
        self.peer_id = peer_id
        self.recorder = recorder
        self.authority = "%s:%d" % (spec.host, spec.port)
        self.origin_url = absolute_url(self.authority, "/")[:-1]  # "http://127.0.0.1:PORT"
        self.crawling = spec.scenario == "crawl"
        # The request headers every peer sends (Host is the library's to write):
        # make_get_request's User-Agent and Connection.
        self.headers = {"User-Agent": USER_AGENT,
                        "Connection": "keep-alive" if spec.keepalive else "close"}
        self._tasks = itertools.count(1)
        self._tasks_lock = threading.Lock()

    # -- the scenario -----------------------------------------------------------------------

    def download_urls(self):
        """Absolute URLs of /p/0 .. /p/N-1 in the seeded shuffled order every model uses."""
        return [self.origin_url + path for path in download_paths(self.spec.seed, self.spec.pages)]

    def start_url(self):
        return absolute_url(self.authority, self.spec.start)

    def frontier(self):
        """The crawl's one frontier: the start URL queued, this origin only, --max-pages."""
        return Frontier(self.start_url(), self.authority, self.spec.max_pages)

    def url_of(self, path):
        return absolute_url(self.authority, path)

    def target(self, url):
        """The request target ("/p/7?x") of an absolute URL of the run."""
        if url.startswith(self.origin_url):
            rest = url[len(self.origin_url):]
            if rest.startswith("/") and "#" not in rest:
                return rest
        return request_target(url)

    # -- attempts ---------------------------------------------------------------------------

    def attempt(self, url, number, lane, task):
        """A new attempt at url; its clock (start_ns, deadline) starts now."""
        return Attempt(url, number, lane, task, self.spec.timeout_ms, self.crawling)

    def final(self, a):
        """The retry policy alone: True when a is its URL's last attempt (ok, a final outcome,
        or retries used up). For a child process that decides but does not record."""
        return not (a.number <= self.spec.retries and is_retryable(a.outcome, a.status))

    def record(self, a, final=None):
        """Writes a's record (thread-safe). True: the URL is done; False: try it again with
        number + 1. `final` overrides the policy (a parent recording a child's attempts)."""
        if a.outcome is None:
            raise RuntimeError("record() of an attempt that did not end: %r" % (a,))
        if not a.end_ns:
            a.end_ns = monotonic_ns()
        done = self.final(a) if final is None else final
        self.recorder.record(a, done)
        return done

    def new_task(self):
        """A fresh task id (1, 2, 3, ...; thread-safe) for peers whose tasks are not threads:
        coroutines, greenlets, callback chains."""
        with self._tasks_lock:
            return next(self._tasks)
