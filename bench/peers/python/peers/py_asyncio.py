"""py-asyncio: asyncio and aiohttp -- a coroutine per URL on one event loop, one thread.

Its place in the story: the Python beside the C++ stackless-coroutines model (first read
models/stackless-coroutines/download.cpp and crawl.cpp: the same program, the same shape). A
Semaphore of C permits is taken before a task is spawned, a TaskGroup owns the tasks and joins
them, and the crawl's main coroutine waits on an Event while nothing is queued. Where it
waits: each task suspends at every `await` -- for a connection from the connector's pool, for
the response's head, for the body -- and the loop (selectors on epoll) resumes it when its
socket is ready. All the Python runs on the loop's one thread; --threads is not honoured.

What aiohttp's documentation recommends, and how this follows it:
  - "it is suggested you use a single session for the lifetime of your application to
    benefit from connection pooling": one ClientSession for the run, closed at its end.
  - "To limit amount of simultaneously opened connections you can pass limit parameter to
    connector": TCPConnector(limit=C), so the pool never holds more than C connections;
    kept alive and reused between requests (aiohttp's default). --keepalive off:
    force_close=True ("close underlying sockets after connection releasing") and the
    request says "Connection: close": one connection per attempt.
  - timeouts: ClientTimeout(total=T), "the whole operation" -- waiting for a connection,
    connecting, the head and reading the body: the attempt's deadline.
  - the body is read to its end (resp.read()), which gives the connection back to the pool.
  - tracing (TraceConfig) is aiohttp's way to watch a request's connection: it stamps
    connected_ns when the connector made a new connection and notes a reused one.

aiohttp's exceptions, mapped to the outcome the C++ models give for the same fault:
  ClientResponseError at the response's start    -> malformed (raise_for_status is off, so
                                                    only the parser raises it: BadHttpMessage)
  ClientPayloadError while reading the body      -> reset or truncated: aiohttp words both
      "Response payload is not completed"; the connection's protocol keeps what ended it,
      ClientOSError(ECONNRESET) -> reset, ServerDisconnectedError (EOF) -> truncated
  ServerDisconnectedError before any byte        -> truncated, or on a kept-alive connection
                                                    the stale keep-alive resend (below)
  ClientOSError (ECONNRESET before the head)     -> reset
  ClientConnectorError                           -> connect_error (a client limit: the run's
                                                    failure)
  asyncio.TimeoutError                           -> timeout; connect_error if no connection
                                                    was had by then
aiohttp 3.8 does not resend a request whose kept-alive connection the server had closed; the
C++ models do (Exchange::send_again), once, so this does too (Attempt.send_again) -- on the
connection aiohttp's pool gives it, which is a new one unless another idle one is left.
"""

import asyncio
import errno

import aiohttp

from rosetta_peer import lane

UNHONOURED = {"--threads": "one event loop, one thread"}


def download(run, loop_factory=None):
    _run_loop(run, download_all, loop_factory)


def crawl(run, loop_factory=None):
    _run_loop(run, crawl_all, loop_factory)


def _run_loop(run, program, loop_factory):
    """asyncio.run(program(...)) on the loop loop_factory makes (None: asyncio's own; py-uvloop
    passes uvloop.new_event_loop)."""
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_in_session(run, program))
    except ExceptionGroup as group:  # a TaskGroup's: the first error names the failure
        raise group.exceptions[0] from None


async def _in_session(run, program):
    spec = run.spec
    connector = aiohttp.TCPConnector(limit=spec.concurrency, force_close=not spec.keepalive)
    async with aiohttp.ClientSession(connector=connector, headers=run.headers,
                                     timeout=aiohttp.ClientTimeout(total=spec.timeout_s),
                                     trace_configs=[_tracing()]) as session:
        await program(run, session)


class _Try:
    """What aiohttp's tracing says about one attempt (its trace_request_ctx)."""

    __slots__ = ("attempt", "has_connection")

    def __init__(self, attempt):
        self.attempt, self.has_connection = attempt, False


def _tracing():
    async def created(session, context, params):
        context.trace_request_ctx.attempt.connected()
        context.trace_request_ctx.has_connection = True

    async def reused(session, context, params):
        context.trace_request_ctx.attempt.reused()
        context.trace_request_ctx.has_connection = True

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace


async def read(session, a, tried):
    """One request and its whole response; a ends as the response said, or raises."""
    async with session.get(a.url, allow_redirects=False, trace_request_ctx=tried) as resp:
        a.first_byte()  # the head is in: aiohttp says no earlier when its first byte came
        # The connection's protocol remembers why a body ended early; resp.connection is None
        # when the whole body came with the head (the connection is back in the pool). Not
        # `if protocol`: a protocol is a queue, false when empty.
        connection = resp.connection
        protocol = connection.protocol if connection is not None else None
        try:
            body = await resp.read()
        except aiohttp.ClientPayloadError:
            got = resp.content.total_bytes
            ended_by = protocol.exception() if protocol is not None else None
            if isinstance(ended_by, OSError) and ended_by.errno == errno.ECONNRESET:
                a.failed("reset", "recv: ECONNRESET", resp.status, got)
            else:
                a.failed("truncated", "connection closed after %d of %s body bytes"
                         % (got, resp.content_length), resp.status, got)
            return
        a.response(resp.status, body)


async def try_once(session, a):
    """One attempt, its outcome as the C++ models name it (see the table above)."""
    tried = _Try(a)
    while True:
        try:
            return await read(session, a, tried)
        except asyncio.TimeoutError as e:
            return a.failed_by(e, step=None if tried.has_connection else "connect")
        except aiohttp.ClientConnectorError as e:
            return a.failed_by(e.os_error, step="connect")
        except aiohttp.ClientResponseError as e:
            a.first_byte()
            return a.failed("malformed", "bad status line: %s" % e.message)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as e:
            if a.send_again():  # a kept-alive connection the origin had closed: once more
                tried = _Try(a)
                continue
            if isinstance(e, aiohttp.ServerDisconnectedError):
                return a.failed("truncated", "connection closed before any byte of the response")
            return a.failed_by(e)


async def fetch_url(run, session, url, task):
    """Every attempt at url, until Run.record says it is done; the last attempt."""
    number = 1
    while True:
        a = run.attempt(url, number, lane(), task)
        await try_once(session, a)
        if run.record(a):
            return a
        number += 1


async def download_all(run, session):
    slots = asyncio.Semaphore(run.spec.concurrency)

    async def fetch_one(url, task):
        try:
            await fetch_url(run, session, url, task)
        finally:
            slots.release()

    async with asyncio.TaskGroup() as tasks:
        for url in run.download_urls():
            await slots.acquire()
            tasks.create_task(fetch_one(url, run.new_task()))


async def crawl_all(run, session):
    frontier = run.frontier()
    fetch_ended = asyncio.Event()
    slots = asyncio.Semaphore(run.spec.concurrency)

    # Whatever happens to the fetch, the frontier hears that it ended and the main coroutine
    # is woken: without that it would wait for a fetch that never reports.
    async def fetch_and_report(url, task):
        links = []
        try:
            links = (await fetch_url(run, session, url, task)).links
        finally:
            frontier.done(links)
            fetch_ended.set()
            slots.release()

    # One thread runs every coroutine, and only between awaits: the frontier needs no lock.
    async with asyncio.TaskGroup() as tasks:
        while not frontier.finished():
            url = frontier.next()
            if url is None:
                fetch_ended.clear()
                await fetch_ended.wait()
                continue
            await slots.acquire()
            tasks.create_task(fetch_and_report(url, run.new_task()))
