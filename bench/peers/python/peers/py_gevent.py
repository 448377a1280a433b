"""py-gevent: the blocking http.client code on greenlets, beside stackful-fibers.

models/stackful-fibers is this library rebuilt in C++: a hub running an epoll loop on the
thread's own stack, a stack per task, and code that reads like the blocking model. Here the
hub is gevent's (libev), the tasks are greenlets, and the blocking code is the stdlib's own
http.client, unchanged: monkey.patch_all() has replaced the socket module under it, so where
the blocking model's thread would sleep in the kernel (connect, send, recv) the greenlet parks
on the hub, which switches to it again when its socket is ready or its Timeout fires.

Where it waits: in gevent's socket methods, each a wait on the hub (one libev loop, one thread);
the main greenlet waits in Pool.spawn (no free slot), Queue.get (crawl: nothing queued) and
Pool.join. Nothing preempts a greenlet, so the frontier needs no lock.

What the docs recommend, and how this follows it:
- gevent.monkey: "Patching should be done as early as possible in the lifecycle of the
  program ... ideally before any other imports", on the main thread while it is the only one.
  peer.py imports the shared core (which imports http.client, socket, ssl, threading) before
  this module, so the patch comes first thing here, before any of them is used: http.client
  looks socket.create_connection up when it connects, and the core makes its locks when the
  run starts, so both are gevent's (checked: the Recorder's lock is gevent.thread.LockType).
- gevent.pool: "The Pool class ... provides a way to limit concurrency: its spawn method
  blocks if the number of greenlets in the pool has already reached the limit, until there
  is a free slot." Pool(C), one greenlet per URL, spawned in the download's order.
- gevent.Timeout(seconds, exception): raises in the greenlet after `seconds`; always close
  it (the `with` form). One Timeout spans an attempt: connect plus the full response.
- Connections: http.client keeps an HTTPConnection alive between requests; gevent has no
  connection pool of its own, so kept-alive connections wait in a list for the next greenlet
  (the C++ model's IdleConnections): at most C exist, one per running greenlet.
"""

from gevent import monkey

monkey.patch_all()

import http.client  # noqa: E402  (after the patch, on purpose)

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from gevent.queue import Queue  # noqa: E402

from rosetta_peer import lane  # noqa: E402

UNHONOURED = {"--threads": "one gevent hub, one thread"}

# gevent's default resolver sends every getaddrinfo (one per new connection) to a pool of 10
# native threads and back; "block" calls it on the hub's thread, which "is not cooperative":
# a name lookup would stop every greenlet. The origin is a numeric address, which getaddrinfo
# answers without a lookup, so nothing blocks. Measured (C=1000, --latency-ms 50, the full
# fault mix, a 1 s timeout): 445 and 1455 connects timed out queued behind the thread pool in
# two runs, none with "block"; and the pool's 10 threads would outlive the run.
gevent.config.resolver = "block"

# The hub (libev's epoll loop) is the process's, as twisted's reactor is: made here, once, so
# its descriptors are not counted as the run's.
gevent.get_hub()


def try_once(run, a, connection):
    """One attempt: on the kept-alive `connection` if there is one, else on a new one. Returns
    the connection when it may carry the next request (else closes it and returns None)."""
    step = "connect"
    try:
        with gevent.Timeout(run.spec.timeout_s, TimeoutError):  # connect + full response
            while True:
                if connection is None:
                    step = "connect"
                    connection = http.client.HTTPConnection(run.spec.host, run.spec.port)
                    connection.connect()
                    a.connected()
                else:
                    a.reused()
                try:
                    step = "send"
                    connection.request("GET", run.target(a.url), headers=run.headers)
                    step = "recv"
                    response = connection.getresponse()
                    break
                except (ConnectionResetError, BrokenPipeError) as exc:  # RemoteDisconnected too
                    connection.close()
                    connection = None
                    if not a.send_again(exc):  # a kept-alive connection the origin closed
                        raise
            a.first_byte()
            a.status = response.status  # a reset or truncated body keeps it, as in the C++
            a.response(response.status, response.read())
    except Exception as exc:
        if connection is not None:
            connection.close()
        a.failed_by(exc, step)
        return None
    if response.will_close:
        connection.close()
        return None
    return connection


def fetch_url(run, idle, url, task):
    """Every attempt url needs, on a connection taken from `idle` and given back after."""
    connection = idle.pop() if idle else None
    number = 1
    while True:
        a = run.attempt(url, number, lane(), task)
        connection = try_once(run, a, connection)
        if run.record(a):
            break
        number += 1
    if connection is not None:
        idle.append(connection)
    return a


def download(run):
    idle, errors = [], []
    pool = Pool(run.spec.concurrency)

    def fetch(url, task):
        try:
            fetch_url(run, idle, url, task)
        except Exception as exc:  # a limit of the run (LimitReached), a records write
            errors.append(exc)

    for url in run.download_urls():
        if errors:
            break
        pool.spawn(fetch, url, run.new_task())  # waits here while C greenlets run
    pool.join()
    for connection in idle:
        connection.close()
    if errors:
        raise errors[0]


def crawl(run):
    """The main greenlet owns the frontier: it spawns a greenlet per URL and, with nothing
    queued, waits for the links of the next fetch to end."""
    idle, errors = [], []
    ended = Queue()  # the links of each fetch that ended
    pool = Pool(run.spec.concurrency)

    def fetch(url, task):
        links = []
        try:
            links = fetch_url(run, idle, url, task).links
        except Exception as exc:
            errors.append(exc)
        ended.put(links)

    frontier = run.frontier()
    while not frontier.finished() and not errors:
        url = frontier.next()
        if url is None:
            frontier.done(ended.get())
        else:
            pool.spawn(fetch, url, run.new_task())
    pool.join()
    for connection in idle:
        connection.close()
    if errors:
        raise errors[0]
