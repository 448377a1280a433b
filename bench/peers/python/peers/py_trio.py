"""py-trio: trio and h11 -- structured concurrency on one thread, HTTP/1.1 by hand.

Its place in the story: beside the C++ stackless-coroutines model, standing in for curio (not
in Debian), whose heir trio is: coroutines with no futures and no callbacks, every task owned
by a nursery that does not end before its children, every wait cancellable by a cancel scope.
Where it waits: each task suspends in trio's checkpoints -- open_tcp_stream, send_all,
receive_some, a token of the CapacityLimiter -- and trio's run loop (epoll, one thread)
resumes it when its socket is ready; the parent waits in its nursery for them all and, in the
crawl, for the next fetch's links.
--threads is not honoured: one trio.run, one thread.

What trio's documentation recommends, and how this follows it:
  - trio ships no HTTP client; the HTTP/1.1 its ecosystem is built on (httpcore, hypercorn)
    is h11, "a pure-Python, bring-your-own-I/O implementation of HTTP/1.1", driven here over
    trio.open_tcp_stream as h11's own basic-client.py drives a socket: h11.Connection turns
    events into bytes and bytes into events, the peer sends and receives them.
  - "CapacityLimiter ... put a limit on how many tasks can do something at the same time": a
    CapacityLimiter(C), and each task fetches inside `async with limiter` (the docs' own
    example). The parent starts a task per URL at once (start_soon does not wait); at most C
    hold a token, the others wait in the limiter's FIFO. (The parent could borrow each token
    itself, acquire_on_behalf_of, to keep the tasks few and in order; but every trio await is a
    checkpoint, so the parent starts one task per pass of the scheduler, and at C=1000 the run
    never had more than ~300 in flight: not the C asked for.)
  - nurseries: every task is started in one and the nursery joins them; the crawl's fetches
    report their links to the parent over a memory channel, so only the parent touches the
    frontier.
  - timeouts are cancel scopes: each attempt runs under move_on_after(--timeout-ms), connect
    plus the whole response; when it fires, whatever the task was waiting in is cancelled.
  - keep-alive is h11's: after a response, when both sides are DONE, start_next_cycle() and
    the stream goes back to a small pool of idle connections (at most C: one per task);
    --keepalive off sends "Connection: close" and h11 then closes after the response.

Failures, named as the C++ models name them: the deadline's scope cancelled -> timeout
(connect_error while connecting); open_tcp_stream's OSError -> connect_error (its cause);
trio.BrokenResourceError (ECONNRESET, EPIPE) -> reset; h11.RemoteProtocolError after the
origin closed (EOF) -> truncated, otherwise -> malformed. A kept-alive connection the origin
had closed is given the request once more on a new one (Attempt.send_again), as in C++.
"""

import math

import h11
import trio

from rosetta_peer import lane

UNHONOURED = {"--threads": "one trio.run, one thread"}


def download(run):
    _trio_run(download_all, run)


def crawl(run):
    _trio_run(crawl_all, run)


def _trio_run(program, run):
    try:
        trio.run(program, run)
    except BaseExceptionGroup as group:  # several tasks failed: the first names the failure
        raise group.exceptions[0] from None


class Connection:
    """A TCP stream and h11's state of the HTTP/1.1 conversation on it."""

    def __init__(self, stream):
        self.stream = stream
        self.http = h11.Connection(our_role=h11.CLIENT)
        self.eof = False  # the origin closed its side
        self.body_bytes = 0

    async def get(self, target, headers, a):
        """Sends GET target; returns the response's status and body once complete."""
        request = h11.Request(method="GET", target=target, headers=headers)
        await self.stream.send_all(self.http.send(request) + self.http.send(h11.EndOfMessage()))
        status, body = 0, []
        self.body_bytes = 0
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                data = await self.stream.receive_some(65536)
                if data:
                    a.first_byte()
                self.eof = not data
                self.http.receive_data(data)  # b"": the end of the stream
            elif isinstance(event, h11.Response):
                status = a.status = event.status_code
            elif isinstance(event, h11.Data):
                body.append(event.data)
                self.body_bytes += len(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return status, b"".join(body)

    def reusable(self):
        return self.http.our_state is h11.DONE and self.http.their_state is h11.DONE


class Pool:
    """Idle kept-alive connections: a task takes one (or opens one) for an attempt and gives
    it back when the response ended and both sides keep alive. Never more than C."""

    def __init__(self):
        self.idle = []

    def take(self):
        return self.idle.pop() if self.idle else None

    def give(self, connection):
        connection.http.start_next_cycle()
        self.idle.append(connection)

    async def aclose(self):
        for connection in self.idle:
            await connection.stream.aclose()
        self.idle.clear()


async def connect(run, a):
    try:
        stream = await trio.open_tcp_stream(run.spec.host, run.spec.port)
    except trio.Cancelled:  # the deadline passed while connecting (or the run is ending)
        a.failed_by(TimeoutError(), step="connect")
        raise
    except OSError as e:  # "all attempts to connect ... failed": the errors are its cause
        cause = e.__cause__
        a.failed_by(cause.exceptions[0] if isinstance(cause, BaseExceptionGroup) else e, step="connect")
        return None
    a.connected()
    return Connection(stream)


async def exchange(run, pool, a, target, headers):
    """The request on a kept-alive connection or a new one, and its response: a ends as they
    say. Returns the connection when it may carry the next request. A kept-alive connection
    the origin had closed is given the request once more, on a new one."""
    stale = False
    while True:
        connection = None if stale else pool.take()
        if connection is not None:
            a.reused()
        else:
            connection = await connect(run, a)
            if connection is None:
                return None
        try:
            status, body = await connection.get(target, headers, a)
        except (trio.BrokenResourceError, h11.RemoteProtocolError) as e:
            await trio.aclose_forcefully(connection.stream)
            broken = isinstance(e, trio.BrokenResourceError)
            if (broken or connection.eof) and a.send_again():
                stale = True
                continue
            if broken:
                a.failed_by(e.__cause__)  # ECONNRESET -> reset "recv: ECONNRESET"
                a.bytes = connection.body_bytes
            elif connection.eof:
                a.failed("truncated", "connection closed: %s" % e, a.status, connection.body_bytes)
            else:
                a.failed("malformed", "bad status line: %s" % e)
            return None
        except BaseException:  # the deadline's cancellation, or the run ending
            await trio.aclose_forcefully(connection.stream)
            raise
        a.response(status, body)
        if connection.reusable():
            return connection
        await connection.stream.aclose()
        return None


async def try_once(run, pool, a, target, headers):
    """One attempt under its deadline: a cancel scope around connect + the whole response."""
    with trio.move_on_after(max(a.time_left(), 0)) as deadline:
        connection = await exchange(run, pool, a, target, headers)
        if connection is not None:
            pool.give(connection)
    if deadline.cancelled_caught and a.outcome is None:  # connect() ended it if it was then
        a.failed_by(TimeoutError())


async def fetch_url(run, pool, url, task):
    """Every attempt at url, until Run.record says it is done; the last attempt."""
    target = run.target(url)
    headers = [("Host", run.authority)] + list(run.headers.items())
    number = 1
    while True:
        a = run.attempt(url, number, lane(), task)
        await try_once(run, pool, a, target, headers)
        if run.record(a):
            return a
        number += 1


async def download_all(run):
    pool = Pool()
    limiter = trio.CapacityLimiter(run.spec.concurrency)

    async def fetch_one(url, task):
        async with limiter:
            await fetch_url(run, pool, url, task)

    try:
        async with trio.open_nursery() as nursery:
            for url in run.download_urls():
                nursery.start_soon(fetch_one, url, run.new_task())
    finally:
        await pool.aclose()


async def crawl_all(run):
    pool = Pool()
    limiter = trio.CapacityLimiter(run.spec.concurrency)
    frontier = run.frontier()
    # Each fetch sends its page's links (none when it failed) and ends; only this task reads
    # them, so the frontier has one owner and needs no lock.
    report, reports = trio.open_memory_channel(math.inf)

    async def fetch_and_report(url, task):
        links = []
        try:
            async with limiter:
                links = (await fetch_url(run, pool, url, task)).links
        finally:
            report.send_nowait(links)

    try:
        async with trio.open_nursery() as nursery:
            while not frontier.finished():
                url = frontier.next()
                if url is None:
                    frontier.done(await reports.receive())
                else:
                    nursery.start_soon(fetch_and_report, url, run.new_task())
    finally:
        await pool.aclose()
