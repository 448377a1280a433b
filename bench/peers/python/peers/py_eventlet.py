"""py-eventlet: the blocking http.client code on green threads, beside stackful-fibers and
boost-fibers.

Read py_gevent.py first: this file is that one with eventlet's names (a diff shows them),
and one function more, read_body, for a quirk of eventlet's sockets. eventlet (Linden Lab,
for Second Life) came first; gevent was inspired by it. Both run greenlets on a hub. Here the
hub is eventlet's epoll hub (eventlet.hubs.epolls, written in Python), the tasks are green
threads, and monkey_patch() has turned the socket module under http.client into green
sockets, so where the blocking model's thread would sleep in the kernel the green thread
parks on the hub until its socket is ready or its Timeout fires. boost-fibers is the same
idea with a scheduler that can spread fibers over threads; eventlet, like gevent, keeps one.

Where it waits: in eventlet's green socket methods, each a trampoline to the hub (one epoll
loop, one thread); the main green thread waits in GreenPool.spawn_n (no free slot),
Queue.get (crawl: nothing queued) and GreenPool.waitall. Nothing preempts a green thread, so
the frontier needs no lock.

What the docs recommend, and how this follows it:
- "Greening the World": "It is important to call eventlet.patcher.monkey_patch as early in
  the lifetime of the application as possible. Try to do it as one of the first lines in the
  main module." peer.py imports the shared core first (http.client, socket, threading); the
  patch comes first thing here, before any of them is used: http.client looks
  socket.create_connection up when it connects, and the core makes its locks when the run
  starts, so both are eventlet's (checked: the Recorder's lock is eventlet.lock.Lock).
- "Design Patterns: Client Pattern" is this program: "The canonical client-side example is
  a web crawler", a GreenPool and imap over the URLs; "Using a pool is good practice because
  it provides an upper limit on the amount of work that this crawler will be doing
  simultaneously". GreenPool(C), spawn_n per URL (spawn_n, as the docs' server pattern does,
  because the records, not the return values, are the results; the crawl cannot use imap:
  its URLs appear as it runs).
- eventlet.Timeout(seconds, exception): raised in the green thread after `seconds`; the
  `with` form cancels it. One Timeout spans an attempt: connect plus the full response.
- Connections: http.client keeps an HTTPConnection alive between requests; eventlet has no
  HTTP connection pool, so kept-alive connections wait in a list for the next green thread:
  at most C exist, one per running green thread.
- Status: 0.33.1 (Debian 12's, 2022) says nothing of it, but the README of the releases
  since opens "New usages of eventlet are now heavily discouraged!": bug fixes only, and
  asyncio for new code ("Migrating off of Eventlet"). It is here because code still runs on
  it (OpenStack, gunicorn and Celery workers).
"""

import eventlet

eventlet.monkey_patch()

import errno  # noqa: E402
import http.client  # noqa: E402  (after the patch, on purpose)
import socket  # noqa: E402

from eventlet import GreenPool  # noqa: E402
from eventlet.queue import Queue  # noqa: E402

from rosetta_peer import lane  # noqa: E402

UNHONOURED = {"--threads": "one eventlet hub, one thread"}

TCP_CLOSE = 7  # include/net/tcp_states.h: tcp_info's first byte, the connection's state


def read_body(response, sock):
    """response.read(), except that a body the origin cut short with an RST raises
    ConnectionResetError, as it does without eventlet. eventlet's green socket reads ECONNRESET
    as the end of the stream (eventlet/greenio/base.py, SOCKET_CLOSED), so http.client alone
    would call a reset an IncompleteRead, a clean close. The kernel still knows which it was: a
    socket the peer reset is CLOSE, one the peer closed waits in CLOSE_WAIT. http.client closes
    its socket as it raises; a file object of our own keeps it open long enough to ask, without
    a descriptor more (socket.makefile: closing the file objects "won't close the original
    socket unless all other file objects have been closed")."""
    hold = sock.makefile("rb")
    try:
        return response.read()
    except http.client.IncompleteRead:
        if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_CLOSE:
            raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer") from None
        raise
    finally:
        hold.close()


def try_once(run, a, connection):
    """One attempt: on the kept-alive `connection` if there is one, else on a new one. Returns
    the connection when it may carry the next request (else closes it and returns None)."""
    step = "connect"
    try:
        with eventlet.Timeout(run.spec.timeout_s, TimeoutError):  # connect + full response
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
                    sock = connection.sock  # getresponse() lets go of it when the origin closes
                    response = connection.getresponse()
                    break
                except (ConnectionResetError, BrokenPipeError) as exc:  # RemoteDisconnected too
                    connection.close()
                    connection = None
                    if not a.send_again(exc):  # a kept-alive connection the origin closed
                        raise
            a.first_byte()
            a.status = response.status  # a reset or truncated body keeps it, as in the C++
            a.response(response.status, read_body(response, sock))
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
    pool = GreenPool(run.spec.concurrency)

    def fetch(url, task):
        try:
            fetch_url(run, idle, url, task)
        except Exception as exc:  # a limit of the run (LimitReached), a records write
            errors.append(exc)

    for url in run.download_urls():
        if errors:
            break
        pool.spawn_n(fetch, url, run.new_task())  # waits here while C green threads run
    pool.waitall()
    for connection in idle:
        connection.close()
    if errors:
        raise errors[0]


def crawl(run):
    """The main green thread owns the frontier: it spawns a green thread per URL and, with
    nothing queued, waits for the links of the next fetch to end."""
    idle, errors = [], []
    ended = Queue()  # the links of each fetch that ended
    pool = GreenPool(run.spec.concurrency)

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
            pool.spawn_n(fetch, url, run.new_task())
    pool.waitall()
    for connection in idle:
        connection.close()
    if errors:
        raise errors[0]
