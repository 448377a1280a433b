"""py-processes: a ProcessPoolExecutor of C forked workers, each blocking in http.client.

Its place in the story: the Python beside the C++ process-per-task model (a process fetches,
its results and found links go back to the parent over pipes), and Python's classic way around
the GIL: each worker is a whole interpreter, so the parsing, checksums and link extraction of C
responses really run in parallel. First read py_threads.py: this file is its diff. Where it
waits: each worker sleeps in the kernel on its own socket exactly as a py-threads worker does
(the same try_once); the parent waits in concurrent.futures for results to come back through
the executor's result pipe, and is the only one to record and to touch the frontier. What it
costs: a process per worker, forked at the first submit (about 20-40 ms each on this 2-core
VM, so C=1000 spends half a minute starting), each some 19 MB resident of which 3.4 MB is its
own (the rest shared copy-on-write with the parent: a tree's summed RSS counts it C times); a
context switch between processes for every response; and every Attempt pickled across a pipe.

What the documentation recommends, and how this follows it:
  - concurrent.futures.ProcessPoolExecutor(max_workers=C, mp_context=..., initializer=...):
    the same interface as ThreadPoolExecutor, so download and crawl are py-threads' lines with
    another executor; used as a context manager, so shutdown(wait=True) joins every worker.
  - multiprocessing: the "fork" start method (Linux's default in 3.11), chosen explicitly: the
    workers inherit the parsed Run instead of re-importing and re-parsing it; the pool forks
    all its workers at the first submit, before any thread of the executor exists.
  - "initializer ... is called at the start of each worker process": it opens nothing yet but
    gives the worker its one HTTPConnection, kept alive for every URL the worker fetches, and
    registers its close for the worker's exit (multiprocessing.util.Finalize: a pool worker
    leaves through os._exit, where atexit handlers do not run).
  - Results are return values: the child sends back its URL's attempts (picklable Attempts,
    the final one with the page's links); the parent records them and feeds the frontier.
"""

import concurrent.futures
import contextlib
import encodings.idna  # noqa: F401 -- connect() imports it at first use: once here, not per child
import gc
import http.client
import multiprocessing
import multiprocessing.util

from rosetta_peer import lane
from peers.py_threads import try_once

# The worker's own: set by the initializer in each child process.
_run = None
_connection = None


def start_worker(run):
    global _run, _connection
    _run = run
    _connection = http.client.HTTPConnection(run.spec.host, run.spec.port)
    multiprocessing.util.Finalize(_connection, _connection.close, exitpriority=10)


def fetch_url(url):
    """In a worker: every attempt at url until one is final. The parent records them."""
    me = lane()  # a worker's main thread: its pid
    attempts = []
    number = 1
    while True:
        a = _run.attempt(url, number, me, me)  # a process is its own task, as in the C++
        try_once(_run, _connection, a)
        attempts.append(a)
        if _run.final(a):
            return attempts
        number += 1


def record(run, attempts):
    """In the parent: the child's attempts, the last one final, as the child decided."""
    for a in attempts:
        run.record(a, final=a is attempts[-1])
    return attempts[-1]


@contextlib.contextmanager
def executor(run):
    """The pool, joined on the way out. gc.freeze() before the workers fork is the gc module's
    advice for fork without exec: a child's collections then never write to the objects it
    shares with the parent, which would copy their pages."""
    gc.freeze()
    try:
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=run.spec.concurrency, mp_context=multiprocessing.get_context("fork"),
                initializer=start_worker, initargs=(run,)) as pool:
            yield pool
    finally:
        gc.unfreeze()


def _finish(pool, futures):
    """Cancels what has not started once a fetch raised (a limit of the run), and re-raises."""
    for future in futures:
        if future.exception() is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            raise future.exception()


def download(run):
    with executor(run) as pool:
        futures = [pool.submit(fetch_url, url) for url in run.download_urls()]
        for future in concurrent.futures.as_completed(futures):
            _finish(pool, [future])
            record(run, future.result())


def crawl(run):
    frontier = run.frontier()  # the parent's alone: no lock
    with executor(run) as pool:
        running = set()
        while not frontier.finished():
            # At most C submitted: wait() costs a waiter on every future it is given.
            while len(running) < run.spec.concurrency and (url := frontier.next()) is not None:
                running.add(pool.submit(fetch_url, url))
            done, running = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            _finish(pool, done)
            for future in done:
                frontier.done(record(run, future.result()).links)
