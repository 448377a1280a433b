"""Attempts and their records -- scenarios/records.cpp, outcome.hpp and exchange.cpp's naming
of failures, in Python.

An Attempt is one try of one URL: the peer stamps its phases (connected, first_byte) and ends
it with response(), failed() or failed_by(); Run.record() writes its line. The outcome of every
fault is decided here once, worded as the C++ models word it, so the verifier sees the same
attempts whichever peer made them.
"""

import errno
import http.client
import json
import os
import resource
import socket
import threading
import time

import xxhash

from .links import extract_links

__all__ = ["OUTCOMES", "RETRYABLE", "is_retryable", "Attempt", "Recorder", "LimitReached",
           "LatencyHistogram", "lane", "describe_error"]

OUTCOMES = ("ok", "http_error", "timeout", "reset", "truncated", "malformed", "connect_error")


def is_retryable(outcome, status):
    """5xx, timeout, reset, truncated, malformed, connect_error. A 4xx is final."""
    if outcome == "ok":
        return False
    if outcome == "http_error":
        return status >= 500
    return True


RETRYABLE = tuple(o for o in OUTCOMES if o not in ("ok", "http_error"))

monotonic_ns = time.monotonic_ns  # CLOCK_MONOTONIC: comparable with the C++ models' clocks


def lane():
    """What the OS schedules: this thread's id (gettid), a child process's own pid in its
    main thread."""
    return threading.get_native_id()


class LimitReached(Exception):
    """The OS refused the run something it needs (a descriptor, a port, a thread): not the
    outcome of one URL but the limit of the whole run, reported as its failure."""


_CLIENT_LIMITS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EAGAIN,
                  errno.EADDRNOTAVAIL}


def _first_line(path):
    try:
        with open(path) as f:
            return f.readline().strip()
    except OSError:
        return ""


def describe_error(operation, err):
    """"socket: EMFILE (RLIMIT_NOFILE 20000)": the operation, the errno name and, for the
    errors that mean a limit was hit, the limit in force (net.cpp's describe_error)."""
    text = "%s: %s" % (operation, errno.errorcode.get(err, "errno %d" % err))
    if err == errno.EMFILE:
        text += " (RLIMIT_NOFILE %d)" % resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    elif err == errno.ENFILE:
        text += " (fs.file-max %s)" % _first_line("/proc/sys/fs/file-max")
    elif err == errno.EADDRNOTAVAIL:
        ports = _first_line("/proc/sys/net/ipv4/ip_local_port_range").split()
        text += " (ephemeral ports %s in use)" % "-".join(ports)
    elif err in (errno.EAGAIN, errno.ENOMEM):
        tasks = _first_line("/proc/loadavg").split("/")[-1].split()[0]
        text += " (pid_max %s: %s threads on the system; vm.max_map_count %s)" % (
            _first_line("/proc/sys/kernel/pid_max"), tasks, _first_line("/proc/sys/vm/max_map_count"))
    return text


_EMPTY_CHECKSUM = xxhash.xxh3_64_intdigest(b"")


class Attempt:
    """One try of one URL. Picklable, so a child process can send it to its parent.

    Fields as in the record: url, number (the attempt, from 1), lane, task, start_ns,
    connected_ns (0: no new connection), first_byte_ns (0: no byte arrived), end_ns, outcome,
    status, bytes, checksum, error; links (crawl: the page's links when ok).
    """

    __slots__ = ("url", "number", "lane", "task", "start_ns", "connected_ns", "first_byte_ns",
                 "end_ns", "outcome", "status", "bytes", "checksum", "error", "links",
                 "deadline_ns", "timeout_ms", "want_links", "_reused", "_resent")

    def __init__(self, url, number, lane, task, timeout_ms, want_links):
        self.url = url
        self.number = number
        self.lane = lane
        self.task = task
        self.timeout_ms = timeout_ms
        self.want_links = want_links
        self.start_ns = monotonic_ns()
        self.deadline_ns = self.start_ns + timeout_ms * 1_000_000
        self.connected_ns = 0
        self.first_byte_ns = 0
        self.end_ns = 0
        self.outcome = None
        self.status = 0
        self.bytes = 0
        self.checksum = _EMPTY_CHECKSUM
        self.error = ""
        self.links = []
        self._reused = False
        self._resent = False

    def __getstate__(self):
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state):
        for name, value in zip(self.__slots__, state):
            setattr(self, name, value)

    def __repr__(self):
        return "Attempt(%r, %d, %s)" % (self.url, self.number, self.outcome)

    # -- the clock --------------------------------------------------------------------------

    def time_left(self):
        """Seconds left before the deadline (connect + full response); <= 0 once passed."""
        return (self.deadline_ns - monotonic_ns()) / 1e9

    def expired(self):
        return monotonic_ns() >= self.deadline_ns

    # -- stamps -----------------------------------------------------------------------------

    def connected(self):
        """A NEW connection was made for this attempt (not called on reuse)."""
        self.connected_ns = monotonic_ns()

    def reused(self):
        """Optional: a kept-alive connection carries this attempt (helps failed_by name the
        step of a generic OSError)."""
        self._reused = True

    def first_byte(self):
        """The first byte of the response arrived (only the first call counts)."""
        if not self.first_byte_ns:
            self.first_byte_ns = monotonic_ns()

    # -- endings ----------------------------------------------------------------------------

    def response(self, status, body):
        """A complete response: ok (status < 400; the body's checksum and, crawling, the page's
        links) or http_error."""
        self.end_ns = monotonic_ns()
        if not self.first_byte_ns:
            self.first_byte_ns = self.end_ns
        self.status = status
        self.bytes = len(body)
        self.checksum = xxhash.xxh3_64_intdigest(body)
        if status >= 400:
            self.outcome = "http_error"
            self.error = "HTTP %d" % status
        else:
            self.outcome = "ok"
            self.error = ""
            if self.want_links:
                self.links = extract_links(body, self.url)

    def failed(self, outcome, error, status=0, body_bytes=0):
        """Any other ending, by the peer's own classification."""
        if outcome not in OUTCOMES:
            raise ValueError("unknown outcome %r" % (outcome,))
        self.end_ns = monotonic_ns()
        self.outcome = outcome
        self.error = error
        if status:
            self.status = status
        self.bytes = body_bytes
        self.links = []

    def failed_by(self, exc, step=None):
        """The common classification of an exception that ended the attempt, as the C++ names
        each failure (exchange.cpp):

          TimeoutError / socket.timeout      -> timeout "no complete response within T ms"
                                                (step="connect": connect_error)
          ConnectionRefusedError, gaierror   -> connect_error "connect: ECONNREFUSED"
          ConnectionResetError, BrokenPipe-,
          ConnectionAbortedError             -> reset "recv: ECONNRESET"
          http.client.RemoteDisconnected     -> truncated (closed before any byte)
          http.client.IncompleteRead         -> truncated (closed inside the body)
          other http.client.HTTPException    -> malformed
          other OSError                      -> connect_error before the connection was made
                                                (no connected()/reused() yet, or
                                                step="connect"), reset after
        A client limit (EMFILE, EADDRNOTAVAIL, ...) while connecting raises LimitReached. An
        exception of no known kind is raised again: map it in the peer first.
        """
        if isinstance(exc, TimeoutError):  # socket.timeout, asyncio.TimeoutError too
            if step == "connect":
                return self.failed("connect_error", "connect: no answer within %d ms" % self.timeout_ms)
            return self.failed("timeout", "no complete response within %d ms" % self.timeout_ms,
                               self.status)
        if isinstance(exc, http.client.RemoteDisconnected):
            return self.failed("truncated", "connection closed before any byte of the response")
        if isinstance(exc, http.client.IncompleteRead):
            got = len(exc.partial)
            expected = got + exc.expected if isinstance(exc.expected, int) else 0
            return self.failed("truncated", "connection closed after %d of %d body bytes"
                               % (got, expected), self.status, got)
        if isinstance(exc, http.client.HTTPException):
            if not self.first_byte_ns:
                self.first_byte()  # bytes came, or the parser would not have judged them
            return self.failed("malformed", "bad status line: %s" % (str(exc)[:60] or type(exc).__name__),
                               self.status)
        if isinstance(exc, socket.gaierror):
            return self.failed("connect_error", "connect: %s" % exc.strerror)
        if isinstance(exc, OSError):
            code = exc.errno or 0
            name = errno.errorcode.get(code, type(exc).__name__)
            if isinstance(exc, ConnectionRefusedError):
                return self.failed("connect_error", "connect: " + name)
            before = step == "connect" or (step is None and not self.connected_ns and not self._reused
                                           and not isinstance(exc, (ConnectionResetError, BrokenPipeError,
                                                                    ConnectionAbortedError)))
            if before:
                if code in _CLIENT_LIMITS:  # socket() runs out of descriptors, connect() of ports
                    operation = "socket" if code in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS) else "connect"
                    raise LimitReached(describe_error(operation, code)) from exc
                return self.failed("connect_error", "connect: " + name)
            operation = "send" if step == "send" or isinstance(exc, BrokenPipeError) else "recv"
            return self.failed("reset", "%s: %s" % (operation, name), self.status)
        raise exc

    def send_again(self, exc=None):
        """The stale keep-alive rule (Exchange::send_again): a kept-alive connection the server
        closed while idle fails before any byte of a response. When this try did not open its
        connection, no response byte arrived, the failure is neither the deadline nor a
        refused connect, and the request was not sent again already, the peer sends it once
        more on a new connection: True (the failed try is not an attempt; same clock). No
        fault of the origin looks like this, so nothing is hidden."""
        if isinstance(exc, http.client.HTTPException):
            transport = isinstance(exc, http.client.RemoteDisconnected)  # EOF before any byte
        else:
            transport = exc is None or (isinstance(exc, OSError) and not isinstance(
                exc, (TimeoutError, ConnectionRefusedError, socket.gaierror)))
        stale = not self._resent and not self.connected_ns and not self.first_byte_ns and transport
        if stale:
            self._resent = True
        return stale

    # -- the record -------------------------------------------------------------------------

    def json_line(self):
        """The record as records.cpp writes it: connected_ns left out when 0, first_byte_ns
        null when no byte arrived, error only when there is one, the checksum in 16 hex
        digits."""
        line = ('{"url":%s,"attempt":%d,"outcome":"%s","status":%d,"bytes":%d,"checksum":"%016x",'
                '"start_ns":%d' % (json.dumps(self.url, ensure_ascii=False), self.number, self.outcome,
                                   self.status, self.bytes, self.checksum, self.start_ns))
        if self.connected_ns:
            line += ',"connected_ns":%d' % self.connected_ns
        line += ',"first_byte_ns":%s' % (self.first_byte_ns or "null")
        line += ',"end_ns":%d,"lane":%d,"task":%d' % (self.end_ns, self.lane, self.task)
        if self.error:
            line += ',"error":' + json.dumps(self.error, ensure_ascii=False)
        return line + "}\n"


class LatencyHistogram:
    """histogram.cpp's log-linear histogram: below 128 one bucket per value, above each power
    of two split in 128; percentiles report the bucket's midpoint, clamped to min/max."""

    SUB_BUCKET_BITS = 7
    SUB_BUCKETS = 128
    MAX_VALUE = (1 << 40) - 1

    def __init__(self):
        self.counts = {}
        self.count = 0
        self.min = 0
        self.max = 0

    @classmethod
    def bucket_of(cls, value):
        value = min(value, cls.MAX_VALUE)
        if value < cls.SUB_BUCKETS:
            return value
        shift = value.bit_length() - 1 - cls.SUB_BUCKET_BITS
        return cls.SUB_BUCKETS + shift * cls.SUB_BUCKETS + (value >> shift) - cls.SUB_BUCKETS

    @classmethod
    def bucket_low(cls, bucket):
        if bucket < cls.SUB_BUCKETS:
            return bucket
        shift, offset = divmod(bucket - cls.SUB_BUCKETS, cls.SUB_BUCKETS)
        return (cls.SUB_BUCKETS + offset) << shift

    @classmethod
    def bucket_width(cls, bucket):
        return 1 if bucket < cls.SUB_BUCKETS else 1 << ((bucket - cls.SUB_BUCKETS) // cls.SUB_BUCKETS)

    def record(self, value):
        value = min(max(value, 0), self.MAX_VALUE)
        bucket = self.bucket_of(value)
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        if self.count == 0 or value < self.min:
            self.min = value
        self.max = max(self.max, value)
        self.count += 1

    def percentile(self, q):
        if self.count == 0:
            return 0
        q = min(max(q, 0.0), 100.0)
        rank = -int(-(q / 100.0 * self.count) // 1)  # ceil
        rank = min(max(rank, 1), self.count)
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                mid = self.bucket_low(bucket) + (self.bucket_width(bucket) - 1) // 2
                return min(max(mid, self.min), self.max)
        return self.max

    def summary(self):
        return {"p50": self.percentile(50), "p90": self.percentile(90), "p99": self.percentile(99),
                "p999": self.percentile(99.9), "max": self.max}


class Recorder:
    """Collects the records of a run: each written to the --records file (buffered, flushed
    at least every 100 ms of attempts, so a crash loses at most that much) and counted in the
    totals. Thread-safe: one lock, held for the append. Only the process that opened it ever
    writes: a forked child holds a copy of the buffer and must not write it."""

    FLUSH_BYTES = 64 * 1024
    FLUSH_NS = 100_000_000

    def __init__(self, path):
        self._lock = threading.Lock()
        self._owner = os.getpid()
        self._fd = -1
        self.path = path
        if path:
            try:
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise OSError(e.errno, "--records %s: %s" % (path, e.strerror)) from None
        self._buffer = []
        self._buffered = 0
        self._last_flush_ns = 0
        self.write_error = ""
        self.requests = 0
        self.urls = 0
        self.bytes = 0
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.latency_us = LatencyHistogram()

    def record(self, attempt, final):
        line = attempt.json_line() if self._fd >= 0 else ""
        with self._lock:
            self.requests += 1
            self.bytes += attempt.bytes
            self.latency_us.record((attempt.end_ns - attempt.start_ns) // 1000)
            if final:
                self.urls += 1
                self.outcomes[attempt.outcome] += 1
            if self._fd < 0 or self.write_error:
                return
            self._buffer.append(line)
            self._buffered += len(line)
            if self._buffered >= self.FLUSH_BYTES or attempt.end_ns - self._last_flush_ns > self.FLUSH_NS:
                self._last_flush_ns = attempt.end_ns
                self._flush_locked()

    def _flush_locked(self):
        if os.getpid() != self._owner or self._fd < 0:
            return
        data = "".join(self._buffer).encode("utf-8", "surrogateescape")
        self._buffer.clear()
        self._buffered = 0
        view = memoryview(data)
        while view and not self.write_error:
            try:
                view = view[os.write(self._fd, view):]
            except InterruptedError:
                continue
            except OSError as e:
                self.write_error = "--records %s: %s" % (self.path, e.strerror)

    def flush(self):
        with self._lock:
            self._flush_locked()
        return not self.write_error

    def close(self):
        """Flushes and closes the file; False when any write failed."""
        with self._lock:
            if os.getpid() != self._owner:
                return not self.write_error
            self._flush_locked()
            if self._fd >= 0:
                try:
                    os.close(self._fd)
                except OSError as e:
                    self.write_error = self.write_error or "--records %s: %s" % (self.path, e.strerror)
                self._fd = -1
        return not self.write_error
