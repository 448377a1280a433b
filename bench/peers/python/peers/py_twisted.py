"""py-twisted: Twisted's Agent and Deferreds on the epoll reactor, beside epoll-callbacks.

models/epoll-callbacks is the reactor pattern written by hand: nothing waits, every step of a
request is a callback the reactor calls when a socket is ready or a timer is due. Twisted is
that pattern as a Python library: the reactor here is its epollreactor, and an attempt is a
chain of callbacks on Deferreds: a connection (from the pool, or new), the response's head,
its body (Body, readBody's twin), the record; the chain of one URL takes the next attempt when
the last one was retryable. The reactor runs once, on the main thread, for the whole run.

Where it waits: only in reactor.run(), in epoll_wait. A URL waiting for its turn waits in the
DeferredSemaphore's queue, which is a list, not a thread.

What the docs recommend, and how this follows it:
- "Using the Twisted Web Client": an Agent for requests and, for persistent connections, an
  HTTPConnectionPool ("If the pool is created with the parameter persistent set to True (the
  default), it will not close connections when the request is done, and instead hold them in
  its cache to be re-used"); its maxPersistentPerHost ("The default value is 2") caps the
  cached connections to one server. Here: one pool for the run, persistent=--keepalive, and
  maxPersistentPerHost = C, so each of the C requests in flight can keep its connection.
  (One Agent per attempt, all on the one pool: an Agent is a few attributes, and its endpoint
  factory, asked for every request and used only for a new connection, is how an attempt
  learns that it made one: the record's connected_ns.)
- readBody(response) "if the body of the response isn't going to be consumed
  incrementally"; "cancelling this Deferred will close the connection to the HTTP server
  immediately". Not in 22.4: readBody closes through the transport's abortConnection, which
  the HTTP/1.1 response's transport (TransportProxyProducer) lacks, so a cancelled readBody
  leaves the connection reading and logs AlreadyCalledError when the body ends. Body is
  readBody with the docs' other way out ("stopProducing can be used to stop delivery
  permanently; after this, the protocol's connectionLost method will be called").
  Deferred.addTimeout(seconds, reactor) cancels the whole attempt (connect, head, body) when
  --timeout-ms passes; its onTimeoutCancel names what was cut.
- Limiting parallelism: DeferredSemaphore(C).run(f) runs f once one of C tokens is free. Its
  docstring points to twisted.internet.task.Cooperator for this; a Cooperator works through
  an iterator that must not run dry, and the crawl's URLs appear as it runs, so the semaphore
  serves both scenarios: download and crawl differ only in where the URLs come from. The
  run's first failure (a limit such as EMFILE) cancels the acquisitions still waiting, and the
  reactor stops once those in flight have ended, as the C++ models stop at a limit.
- "Automatic Retries": the pool sends a GET once more on a new connection when a cached one
  failed before any response (the server closed it while idle): the C++ models' stale
  keep-alive rule, here the library's own. Not when the attempt was cancelled.
- Failures: a response cut short fails the body with ResponseFailed, whose reasons say how:
  ConnectionLost (an RST: reset) or ConnectionDone (a FIN: truncated) beside _DataLoss (the
  body is shorter than Content-Length); a bad status line is a ParseError (malformed); nothing
  at all before the connection broke is ResponseNeverReceived. classify() maps them.
"""

import signal

from twisted.internet import defer, error, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web._newclient import ParseError  # the one name twisted.web.client leaves out
from twisted.web.client import (Agent, HTTPConnectionPool, RequestTransmissionFailed,
                                ResponseDone, ResponseFailed)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers

from rosetta_peer import lane

UNHONOURED = {"--threads": "one reactor, one thread"}


class _Cut(Exception):
    """What onTimeoutCancel puts in place of the failure a timed-out cancel caused."""

    def __init__(self, outcome, error):
        super().__init__(error)
        self.outcome, self.error = outcome, error


def classify(failure):
    """The outcome and error of a failed attempt, or None for a failure of no known kind (a
    bug: it fails the run)."""
    if failure.check(_Cut):
        return failure.value.outcome, failure.value.error
    if failure.check(error.ConnectError):  # one without an errno (see failed() for those)
        return "connect_error", "connect: " + failure.getErrorMessage()
    if failure.check(ResponseFailed, RequestTransmissionFailed):  # ResponseNeverReceived too
        reasons = failure.value.reasons
        if any(r.check(ParseError) for r in reasons):
            return "malformed", "bad status line: " + str(reasons[0].value.args[-1])[:60]
        if any(r.check(error.ConnectionLost) for r in reasons):
            return "reset", "recv: ECONNRESET"
        if any(r.check(error.ConnectionDone) for r in reasons):  # with _DataLoss, or alone
            return "truncated", "response incomplete"
    return None


def timed_out(result, timeout):
    """addTimeout's onTimeoutCancel: the cancel's failure becomes what the C++ models report,
    a connect_error when no connection was made yet, a timeout after."""
    if not isinstance(result, Failure):  # it completed as the timer fired
        return result
    ms = round(timeout * 1000)
    if result.check(error.ConnectingCancelledError):
        return Failure(_Cut("connect_error", "connect: no answer within %d ms" % ms))
    return Failure(_Cut("timeout", "no complete response within %d ms" % ms))


class Body(Protocol):
    """readBody(response) whose cancel stops the transfer (see the docstring above):
    Body(response).finished fires with the body."""

    def __init__(self, response):
        self.parts = []
        self.finished = defer.Deferred(lambda d: self.transport.stopProducing())
        response.deliverBody(self)

    def dataReceived(self, data):
        self.parts.append(data)

    def connectionLost(self, reason):
        if self.finished.called:  # cancelled: the timeout has named the attempt already
            return
        if reason.check(ResponseDone, PotentialDataLoss):  # the latter: no Content-Length,
            self.finished.callback(b"".join(self.parts))   # the body ended at EOF
        else:
            self.finished.errback(reason)


class NewConnections:
    """Agent's endpoint factory for one attempt: a TCP endpoint to the origin whose connect()
    (called only when the pool has no idle connection) stamps the attempt. TCP4ClientEndpoint,
    not Agent's default HostnameEndpoint, which sends even a numeric address to getaddrinfo in
    the reactor's thread pool, a round trip through a thread for every new connection."""

    def __init__(self, run, a):
        self.endpoint = TCP4ClientEndpoint(reactor, run.spec.host, run.spec.port)
        self.a = a

    def endpointForURI(self, uri):
        return self

    def connect(self, factory):
        def connected(protocol):
            self.a.connected()
            return protocol
        return self.endpoint.connect(factory).addCallback(connected)


class Fetcher:
    """The run's pool, its limit of C, and the callback chain of a URL."""

    def __init__(self, run):
        self.run = run
        self.pool = HTTPConnectionPool(reactor, persistent=run.spec.keepalive)
        self.pool.maxPersistentPerHost = run.spec.concurrency
        self.limit = defer.DeferredSemaphore(run.spec.concurrency)
        # Connection: close is the pool's to send (persistent=False).
        self.headers = Headers({b"User-Agent": [run.headers["User-Agent"].encode()]})
        self.failure = None  # the run's first failure (a limit, LimitReached, or a bug)

    def start(self, url):
        """fetch_url(url) once one of the C tokens is free: a Deferred firing with its final
        attempt, or None when the run failed before (or while) it ran."""
        d = self.limit.run(self.fetch_url, url, self.run.new_task())
        return d.addErrback(self.stop_starting)

    def stop_starting(self, failure):
        """The first failure stops the run as a limit stops the C++ models: no URL waiting for
        a token starts (their acquisitions are cancelled); those in flight end as they will."""
        if self.failure is None:
            self.failure = failure
            for waiting in list(self.limit.waiting):
                waiting.cancel()

    def fetch_url(self, url, task, number=1):
        """Every attempt url needs: a Deferred firing with the final one."""
        a = self.run.attempt(url, number, lane(), task)
        d = self.try_once(a)
        d.addCallback(lambda _: a if self.run.record(a) else self.fetch_url(url, task, number + 1))
        return d

    def try_once(self, a):
        """One attempt: a Deferred firing (never failing, unless for a bug) once `a` has ended."""
        status = []

        def received(response):  # the head is in
            a.first_byte()
            status.append(response.code)
            return Body(response).finished.addCallback(lambda body: a.response(response.code, body))

        def failed(failure):
            if failure.check(error.ConnectError) and isinstance(failure.value.osError, int):
                # connect()'s or socket()'s errno: the core words it as the C++ does, and a
                # limit of the client (EMFILE, EADDRNOTAVAIL) raises LimitReached, failing the run
                reason = OSError(failure.value.osError, failure.getErrorMessage())
                return a.failed_by(reason, step="connect")
            named = classify(failure)
            if named is None:
                return failure
            a.failed(*named, status=status[0] if status else 0)

        agent = Agent.usingEndpointFactory(reactor, NewConnections(self.run, a), pool=self.pool)
        d = agent.request(b"GET", a.url.encode("ascii"), self.headers)
        d.addCallback(received)
        d.addTimeout(self.run.spec.timeout_s, reactor, onTimeoutCancel=timed_out)
        d.addErrback(failed)
        return d


def run_reactor(run, scenario):
    """Runs the reactor once, until scenario(fetcher)'s Deferred fires (every fetch it started
    has ended) and the pool's idle connections are closed; then raises the run's failure, if
    any."""
    fetcher = Fetcher(run)
    ended = []

    def stop(_):
        ended.append(True)
        reactor.stop()

    def start():
        d = defer.maybeDeferred(scenario, fetcher)
        d.addErrback(fetcher.stop_starting)  # a bug in the scenario itself
        d.addCallback(lambda _: fetcher.pool.closeCachedConnections())
        d.addBoth(stop)

    reactor.callWhenRunning(start)
    # Without the reactor's signal handlers: with them it opens a pipe to hear of child
    # processes (SIGCHLD) and keeps it after it stops, and this run starts none. Ctrl-C stops
    # the reactor as its own handler would (a KeyboardInterrupt inside it would be logged and
    # the loop would go on).
    interrupt = signal.getsignal(signal.SIGINT)
    if interrupt is signal.default_int_handler:  # not when SIGINT is ignored
        signal.signal(signal.SIGINT, lambda *_: reactor.callFromThread(reactor.stop))
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        signal.signal(signal.SIGINT, interrupt)
    if not ended:
        raise KeyboardInterrupt
    if fetcher.failure is not None:
        fetcher.failure.raiseException()


def download(run):
    def scenario(fetcher):
        return defer.gatherResults([fetcher.start(url) for url in run.download_urls()])
    run_reactor(run, scenario)


def crawl(run):
    def scenario(fetcher):
        """Every URL the frontier yields goes to the semaphore's queue at once; a fetch that
        ends hands its links to the frontier and queues what they added. The crawl is over
        when none is running: then the frontier is finished, or the run failed."""
        frontier = run.frontier()
        over = defer.Deferred()
        running = 0

        def fetched(a):
            nonlocal running
            running -= 1
            try:
                frontier.done(a.links if a is not None else [])
            finally:
                start_queued()

        def start_queued():
            nonlocal running
            while fetcher.failure is None and (url := frontier.next()) is not None:
                running += 1
                fetcher.start(url).addCallback(fetched).addErrback(fetcher.stop_starting)
            if running == 0 and not over.called:
                over.callback(None)

        start_queued()
        return over
    run_reactor(run, scenario)
