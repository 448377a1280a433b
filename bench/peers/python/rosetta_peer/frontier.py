"""The crawl's bookkeeping, free of any waiting -- scenarios/frontier.cpp in Python.

The URLs seen, the queue of those still to fetch, how many fetches are under way, and the
budget. It also knows when the crawl is over, which no single fetch can: nothing queued and
nothing in flight.

    frontier = run.frontier()
    while (url := frontier.next()) is not None:      # a concurrent peer: while not
        frontier.done(fetch(url).links)              #   frontier.finished(), up to C
                                                     #   fetches between next and done

Not thread-safe on purpose: a peer that shares it between threads or tasks guards it in its
own way (or, better, keeps it in one thread), and that is part of the peer's lesson.
"""

from collections import deque

from .url import same_origin

__all__ = ["Frontier"]


class Frontier:
    def __init__(self, start_url, authority, budget=None):
        """start_url: absolute, normalised; authority: the origin's "host:port", the only one
        the crawl follows; budget: --max-pages, the most URLs ever fetched."""
        self._authority = authority
        self._budget = budget
        self._seen = set()       # every URL ever queued: each is fetched once
        self._queue = deque()
        self._in_flight = 0
        self._admit(start_url)

    def _admit(self, url):
        if self._budget is not None and len(self._seen) >= self._budget:
            return
        if url in self._seen or not same_origin(url, self._authority):
            return
        self._seen.add(url)
        self._queue.append(url)

    def next(self):
        """The next URL to fetch, counted in flight until done(); None when none is queued now
        (fetches in flight may still find more: finished() tells whether the crawl is over)."""
        if not self._queue:
            return None
        self._in_flight += 1
        return self._queue.popleft()

    def done(self, links):
        """A fetch that next() handed out has ended, with the links of its page (empty when it
        failed). Those on the origin, never seen before and within the budget are queued."""
        if self._in_flight == 0:
            raise RuntimeError("Frontier.done without a URL from next()")
        self._in_flight -= 1
        for link in links:
            self._admit(link)

    def finished(self):
        """Nothing queued and nothing in flight: no fetch can find anything more."""
        return not self._queue and self._in_flight == 0

    def queued(self):
        return len(self._queue)

    def in_flight(self):
        return self._in_flight
