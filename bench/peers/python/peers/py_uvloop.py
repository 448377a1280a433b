"""py-uvloop: the py-asyncio program, unchanged, on uvloop's event loop.

Its place in the story: beside the C++ stackless-coroutines model, like py-asyncio; what
changes is only the loop underneath the coroutines -- libuv's (epoll, written in C, wrapped in
Cython) instead of asyncio's selectors loop written in Python. The tasks, the aiohttp session,
its connector of C connections, the timeouts and the mapping of failures are py-asyncio's
(peers/py_asyncio.py), imported, not copied: a difference in the numbers is the loop's.

What uvloop's documentation recommends, and how this follows it: its README (0.17, as Debian
ships it) says, for Python 3.11 and later,

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())

(uvloop.install(), the event-loop policy, is for older Pythons; uvloop.run() came in 0.18).
py-asyncio runs its program in exactly that Runner, so this passes uvloop.new_event_loop.

One thing libuv changes that the verifier sees: a reset that arrives with the last bytes of a
response. epoll reports data and the hang-up together; libuv reads the data, and because the
read was short and the socket hung up it reports end-of-file without reading again (its
"partial read after POLLHUP" shortcut, libuv#2319; reworked upstream in libuv PR #4997), so
the ECONNRESET is never read and aiohttp sees a clean close: "truncated" where asyncio's loop
and every C++ model say "reset". The error is still pending on the socket, so aiohttp's
protocol is given a small subclass that asks for it (SO_ERROR) when libuv reports the EOF,
and hands it on as the reason the connection was lost -- what asyncio's loop would have said.
"""

import os
import socket

import aiohttp.client_proto
import aiohttp.connector
import uvloop

from peers import py_asyncio

UNHONOURED = py_asyncio.UNHONOURED


class ResetAwareHandler(aiohttp.client_proto.ResponseHandler):
    """aiohttp's protocol, told of a reset that libuv reported as an end-of-file."""

    _pending = None

    def eof_received(self):
        error = self.transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            self._pending = ConnectionResetError(error, os.strerror(error))
        return super().eof_received()

    def connection_lost(self, exc):
        super().connection_lost(exc if exc is not None else self._pending)


# aiohttp 3.8 has no parameter for its protocol class: each connector binds the name it finds
# in aiohttp.connector when it is made.
aiohttp.connector.ResponseHandler = ResetAwareHandler

# libuv opens a pipe with the first loop of a process and keeps it until the process exits (its
# signal lock, uv__signal_global_once_init): one per process, not per loop. Made here, at
# import, it is part of the process before the run's census, which would take it for a leak.
uvloop.new_event_loop().close()


def download(run):
    py_asyncio.download(run, loop_factory=uvloop.new_event_loop)


def crawl(run):
    py_asyncio.crawl(run, loop_factory=uvloop.new_event_loop)
