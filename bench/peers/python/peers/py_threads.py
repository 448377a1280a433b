"""py-threads: a ThreadPoolExecutor of C workers, each blocking in http.client.

Its place in the story: the Python beside the C++ thread-pool model (a fixed pool of C workers
running blocking fetches), and the answer most Python programmers reach for first. Where it
waits: every worker thread sleeps in the kernel, in connect(), send() and recv() of its own
socket, with the GIL released; the main thread waits in concurrent.futures (as_completed,
wait). The GIL is the price: only one thread runs Python at a time, so parsing responses and
writing records is serial however many threads wait.

What the documentation recommends, and how this follows it:
  - concurrent.futures: "ThreadPoolExecutor ... max_workers threads to execute calls
    asynchronously", used as a context manager so shutdown(wait=True) joins every worker; the
    docs' own example submits every URL and collects results with as_completed(). The crawl
    submits as the frontier yields and waits with wait(return_when=FIRST_COMPLETED).
  - http.client: an HTTPConnection is one connection, reused for request after request while
    the server keeps it alive (HTTP/1.1 persistent connections), and not thread-safe. So each
    worker keeps its own, in threading.local ("data that is local to a thread"), the way the
    C++ thread-pool keeps one Fd per worker; all are closed when the pool is done.
  - timeouts: the socket timeout is the attempt's time left, set before the request and again
    before the body is read, so connect plus the whole response fit in --timeout-ms.
  - keep-alive off: "Connection: close" on every request; http.client then closes the
    connection after the response and opens a new one for the next attempt.
"""

import concurrent.futures
import http.client
import threading

from rosetta_peer import lane


class Connections:
    """One kept-alive HTTPConnection per worker thread, and the list of all of them to close."""

    def __init__(self, run):
        self.run = run
        self.local = threading.local()
        self.lock = threading.Lock()
        self.every = []

    def mine(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.run.spec.host, self.run.spec.port)
            self.local.connection = connection
            with self.lock:
                self.every.append(connection)
        return connection

    def close(self):
        with self.lock:
            for connection in self.every:
                connection.close()
            self.every.clear()


def try_once(run, connection, a):
    """One attempt on this worker's connection: connect if it has none, send, read."""
    while True:
        try:
            if connection.sock is None:
                connection.timeout = max(a.time_left(), 1e-6)
                try:
                    connection.connect()
                except OSError as e:
                    connection.close()
                    return a.failed_by(e, step="connect")
                a.connected()
            else:
                a.reused()
            sock = connection.sock
            sock.settimeout(max(a.time_left(), 1e-6))
            connection.request("GET", run.target(a.url), headers=run.headers)
            response = connection.getresponse()  # waits for the status line and headers
            a.first_byte()
            a.status = response.status
            left = a.time_left()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            body = response.read()
            a.response(response.status, body)
            if response.will_close or not run.spec.keepalive:
                connection.close()
            return
        except (OSError, http.client.HTTPException) as e:
            connection.close()
            if a.send_again(e):  # the server closed the kept-alive connection while idle
                continue
            return a.failed_by(e)


def fetch_url(run, connections, url):
    """Every attempt at url, until one is final; returns that one (its links for the crawl)."""
    connection = connections.mine()
    me = lane()
    number = 1
    while True:
        a = run.attempt(url, number, me, me)  # a thread is its own task, as in the C++
        try_once(run, connection, a)
        if run.record(a):
            return a
        number += 1


def _finish(pool, futures):
    """Cancels what has not started once a fetch raised (a limit of the run), and re-raises."""
    for future in futures:
        if future.done() and future.exception() is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            raise future.exception()


def download(run):
    connections = Connections(run)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=run.spec.concurrency) as pool:
            futures = [pool.submit(fetch_url, run, connections, url) for url in run.download_urls()]
            for future in concurrent.futures.as_completed(futures):
                _finish(pool, [future])
    finally:
        connections.close()


def crawl(run):
    frontier = run.frontier()  # the main thread's alone: no lock
    connections = Connections(run)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=run.spec.concurrency) as pool:
            running = set()
            while not frontier.finished():
                # At most C submitted: wait() costs a waiter on every future it is given.
                while len(running) < run.spec.concurrency and (url := frontier.next()) is not None:
                    running.add(pool.submit(fetch_url, run, connections, url))
                done, running = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED)
                _finish(pool, done)
                for future in done:
                    frontier.done(future.result().links)
    finally:
        connections.close()
