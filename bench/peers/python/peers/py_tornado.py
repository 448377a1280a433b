"""py-tornado: Tornado's AsyncHTTPClient -- C worker coroutines over a queue, on Tornado's IOLoop.

Its place in the story: the Python beside the C++ epoll-callbacks model. Tornado began as a
callback reactor (IOLoop, IOStream, callbacks on every read) and is now coroutines on top of
asyncio's loop, one thread; its HTTP client is still that machinery: each fetch is an
_HTTPConnection driving an IOStream, and the fetch's Future is resolved by a callback when the
response is complete. Where it waits: a worker coroutine in `await client.fetch(...)`, the
IOLoop (asyncio's selectors on epoll) in epoll_wait, every socket a state machine in IOStream.
--threads is not honoured: one IOLoop, one thread.

What Tornado's documentation recommends, and how this follows it:
  - "The default implementation is simple_httpclient, and this is expected to be suitable
    for most users' needs" (curl_httpclient, which reuses connections, needs pycurl: not
    installed here). simple_httpclient says of itself: "connections are not reused".
    So --keepalive on cannot be honoured: every attempt opens a connection, sends
    "Connection: close" (simple_httpclient's own header) and closes it after the response;
    the records show a connected_ns on every attempt, the origin one connection per request.
  - "max_clients is the number of concurrent requests that can be in progress; when this
    limit is reached additional requests will be queued. Note that time spent waiting in
    this queue still counts against the request_timeout": max_clients=C, and C workers, so
    nothing ever waits in that queue and an attempt's clock is its own.
  - request_timeout ("timeout for entire request") = connect_timeout = --timeout-ms.
  - the docs' concurrent web spider (the "Queue example" of the guide): a tornado.queues.Queue
    and C worker coroutines `async for url in q`, stopped by a None each. The download puts
    every URL in the queue; the crawl puts the start URL and each fetch puts what the
    frontier gives out after it. One thread: the frontier needs no lock.
  - asyncio.run(main()), as Tornado 6.2 recommends; the client is closed at the end.

Two places where simple_httpclient 6.2 does not end a fetch as the C++ models end the same
attempt, fixed in a small subclass of its connection (the _connection_class hook, as
bdarnell/tornado_http2 uses it; private API, tied to 6.2):
  - a garbage status line: the parser gives up, closes the stream and tells no one, so the
    fetch waits for request_timeout and fails "Timeout during request" (tornado#2984; fix
    proposed in tornado PR #3715). Here the fetch ends at once as malformed.
  - a reset inside the body: on_connection_close raises the stream's ConnectionResetError
    inside a delegate call that logs it as "Uncaught exception" with a traceback and ends the
    fetch with an opaque _QuietException. Here the fetch ends with the ConnectionResetError.
It also stamps connected_ns, which Tornado offers no hook for, when the stream is connected.

Errors, named as the C++ models name them: HTTPTimeoutError -> timeout, or connect_error if no
connection was made yet; HTTPStreamClosedError (closed before the response was complete) ->
truncated; ConnectionResetError -> reset; ConnectionRefusedError -> connect_error;
HTTPInputError -> malformed; a response >= 400 -> http_error.
"""

import asyncio

from tornado import httpclient, httputil, queues, simple_httpclient

from rosetta_peer import lane

UNHONOURED = {"--threads": "one IOLoop, one thread"}


class Request(httpclient.HTTPRequest):
    """An HTTPRequest that knows its attempt, for the connection to stamp."""

    def __init__(self, a, **options):
        super().__init__(a.url, **options)
        self.attempt = a


class Connection(simple_httpclient._HTTPConnection):
    def _create_connection(self, stream):  # connected; the request is written next
        self.request.attempt.connected()
        return super()._create_connection(stream)

    def on_connection_close(self):
        error = self.stream.error
        if self.final_callback is not None and error is not None:  # reset: end with it
            self._handle_exception(type(error), error, error.__traceback__)
        else:
            super().on_connection_close()

    async def run(self):
        await super().run()
        if self.final_callback is not None:  # the parser rejected the response, said nothing
            malformed = httputil.HTTPInputError("tornado's parser rejected the response head")
            self._handle_exception(type(malformed), malformed, None)


class Client(simple_httpclient.SimpleAsyncHTTPClient):
    def _connection_class(self):
        return Connection


def download(run):
    asyncio.run(_main(run, download_all))


def crawl(run):
    asyncio.run(_main(run, crawl_all))


async def _main(run, program):
    client = Client(force_instance=True, max_clients=run.spec.concurrency)
    try:
        await program(run, client)
    finally:
        client.close()


async def try_once(run, client, a):
    """One fetch; a ends as the response or the error says."""
    chunks = []  # the body as it arrives (streaming_callback), counted even when cut short

    def head_line(line):  # Tornado's header_callback: the status line first
        if not a.first_byte_ns:
            a.first_byte()
            a.status = int(line.split()[1])

    request = Request(a, request_timeout=run.spec.timeout_s, connect_timeout=run.spec.timeout_s,
                      follow_redirects=False, decompress_response=False,
                      user_agent=run.headers["User-Agent"], header_callback=head_line,
                      streaming_callback=chunks.append)
    try:
        response = await client.fetch(request, raise_error=False)  # an HTTP status is no error
    except simple_httpclient.HTTPTimeoutError as e:
        a.failed_by(TimeoutError(str(e)), step=None if a.connected_ns else "connect")
    except simple_httpclient.HTTPStreamClosedError:
        got = sum(map(len, chunks))
        a.failed("truncated", "connection closed after %d body bytes" % got, a.status, got)
    except httputil.HTTPInputError as e:
        a.first_byte()
        a.failed("malformed", "bad status line: %s" % e)
    except OSError as e:  # ConnectionResetError, ConnectionRefusedError, ...
        a.failed_by(e)
        a.bytes = sum(map(len, chunks))
    else:
        a.response(response.code, b"".join(chunks))


async def fetch_url(run, client, url, task):
    """Every attempt at url, until Run.record says it is done; the last attempt."""
    number = 1
    while True:
        a = run.attempt(url, number, lane(), task)
        await try_once(run, client, a)
        if run.record(a):
            return a
        number += 1


async def download_all(run, client):
    urls = queues.Queue()
    for url in run.download_urls():
        urls.put_nowait(url)
    workers = run.spec.concurrency
    for _ in range(workers):
        urls.put_nowait(None)

    async def worker(task):
        async for url in urls:
            if url is None:
                return
            await fetch_url(run, client, url, task)

    await asyncio.gather(*(worker(run.new_task()) for _ in range(workers)))


async def crawl_all(run, client):
    frontier = run.frontier()
    urls = queues.Queue()
    urls.put_nowait(frontier.next())
    workers = run.spec.concurrency

    def stop():  # a None for each worker: the crawl is over (or failed)
        for _ in range(workers):
            urls.put_nowait(None)

    async def worker(task):
        async for url in urls:
            if url is None:
                return
            try:
                links = (await fetch_url(run, client, url, task)).links
            except BaseException:
                stop()
                raise
            frontier.done(links)
            while (found := frontier.next()) is not None:
                urls.put_nowait(found)
            if frontier.finished():
                stop()

    await asyncio.gather(*(worker(run.new_task()) for _ in range(workers)))
