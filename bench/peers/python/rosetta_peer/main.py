"""The main of every peer -- scenarios/model_main.cpp in Python.

peer.py PEER-ID [options]: import peers/<id>.py (its library missing: one line, exit 77),
parse the options as every model executable does, run the peer's download() or crawl(),
stream the records, check that nothing was left behind, and print the model-side result line
(one JSON object with --json). Exit 0 when the run completed, 1 when not, 2 on bad usage.
"""

import importlib
import json
import os
import resource
import sys
import time

from .census import Census
from .records import Recorder, monotonic_ns
from .run import Run
from .spec import Spec, UsageError, help_text, parse_args, usage_exit

__all__ = ["main", "PEERS"]

PEERS = ("py-threads", "py-processes", "py-asyncio", "py-uvloop", "py-tornado", "py-trio",
         "py-gevent", "py-eventlet", "py-twisted")

EXIT_SKIPPED = 77


def _import_peer(peer_id):
    name = "peers." + peer_id.replace("-", "_")
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing = (e.name or "").split(".")[0]
        if not missing or missing in ("peers", name):
            raise
        package = "python3-" + missing.lower()
        print("%s: skipped: %s is not installed (apt-get install %s)" % (peer_id, package, package),
              file=sys.stderr)
        sys.exit(EXIT_SKIPPED)


def _raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _note_unhonoured(peer_id, module, spec):
    """One stderr line per option the peer cannot honour that was given a non-default value:
    "py-asyncio: --threads 4 not honoured (one event loop per process): ran with 1"."""
    defaults = Spec()
    for option, why in getattr(module, "UNHONOURED", {}).items():
        attribute = option.lstrip("-").replace("-", "_")
        value = getattr(spec, attribute, None)
        default = getattr(defaults, attribute, None)
        if value != default:
            shown = ("on" if value else "off") if isinstance(value, bool) else value
            ran = ("on" if default else "off") if isinstance(default, bool) else default
            print("%s: %s %s not honoured (%s): ran with %s" % (peer_id, option, shown, why, ran),
                  file=sys.stderr)


def _failure_of(exc):
    text = str(exc) or type(exc).__name__
    if isinstance(exc, RuntimeError) and "can't start new thread" in text:
        from .records import describe_error
        import errno
        text = describe_error("thread", errno.EAGAIN)
    return text.replace("\n", " ")


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print("usage: peer.py PEER-ID [OPTIONS]   (PEER-ID: %s; PEER-ID --help for the options)"
              % ", ".join(PEERS))
        return 0 if len(argv) >= 2 else 2
    peer_id, args = argv[1], argv[2:]
    program = "rosetta-" + peer_id
    if peer_id not in PEERS:
        print("peer.py: unknown peer '%s' (known: %s)" % (peer_id, ", ".join(PEERS)), file=sys.stderr)
        return 2
    module = _import_peer(peer_id)
    if "-h" in args or "--help" in args:
        doc = (module.__doc__ or "").strip().split("\n")[0]
        sys.stdout.write(help_text(peer_id, doc))
        return 0
    try:
        spec = parse_args(args)
    except UsageError as e:
        usage_exit(program, e)
    _raise_fd_limit()  # SIGPIPE is ignored by Python already: a reset peer is an OSError
    try:
        recorder = Recorder(spec.records)
    except OSError as e:
        usage_exit(program, UsageError(e.strerror, see_help=False))
    _note_unhonoured(peer_id, module, spec)

    failure = None
    wall_s = 0.0
    try:
        run = Run(spec, recorder, peer_id)
        before = Census.of_this_process()
        t0 = monotonic_ns()
        try:
            (module.crawl if spec.crawling else module.download)(run)
        except Exception as e:  # a limit, or a peer's bug: the result says which, no traceback
            failure = _failure_of(e)
        except KeyboardInterrupt:
            failure = "interrupted"
        wall_s = (monotonic_ns() - t0) / 1e9
        leak = Census.settled_since(before).left_behind_since(before)
        if leak:
            failure = failure + "; " + leak if failure else leak
    except Exception as e:
        failure = _failure_of(e)
    if not recorder.close() and not failure:
        failure = recorder.write_error

    rps = recorder.requests / wall_s if wall_s > 0 else 0
    urls_per_s = recorder.urls / wall_s if wall_s > 0 else 0
    result = {"model": peer_id, "scenario": spec.scenario, "completed": failure is None,
              "failure": failure, "wall_s": wall_s, "requests": recorder.requests,
              "urls": recorder.urls, "outcomes": dict(sorted(recorder.outcomes.items())),
              "bytes": recorder.bytes, "throughput_rps": rps, "urls_per_s": urls_per_s,
              "latency_us": dict(sorted(recorder.latency_us.summary().items()))}
    if spec.out:
        line = json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n"
        try:
            fd = os.open(spec.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        except OSError as e:
            why = "--out %s: %s" % (spec.out, e.strerror)
            result["completed"] = False
            if result["failure"] is None:
                result["failure"] = why
            print("%s: %s" % (program, why), file=sys.stderr)
    if spec.json:
        print(json.dumps(result, sort_keys=True, separators=(",", ":")), flush=True)
    else:
        print("%s %s: %d URLs, %d requests in %.3f s (%.0f req/s, %.0f URLs/s)%s" % (
            peer_id, spec.scenario, recorder.urls, recorder.requests, wall_s, rps, urls_per_s,
            "" if result["failure"] is None else " - failed: " + result["failure"]))
        print("outcomes: " + json.dumps(result["outcomes"], sort_keys=True, separators=(",", ":")))
        print("latency_us: " + json.dumps(result["latency_us"], sort_keys=True, separators=(",", ":")),
              flush=True)
    return 0 if result["completed"] else 1
