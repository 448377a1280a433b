"""What a process holds that a peer must give back before it returns -- scenarios/census.cpp.

Threads, descriptors, child processes: counted from /proc before the run and after it;
anything more at the end is a leak, and the run reports it as its failure ("left behind: 3
threads"). Before counting, the garbage collector runs once, so an object that is merely
unreachable (a connection in a reference cycle) is not taken for one still held.
"""

import gc
import os
import time

__all__ = ["Census"]


class Census:
    def __init__(self, threads, descriptors, children):
        self.threads, self.descriptors, self.children = threads, descriptors, children

    @classmethod
    def of_this_process(cls):
        children = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open("/proc/self/task/%s/children" % tid) as f:
                    children += len(f.read().split())
            except OSError:
                pass
        threads = len(os.listdir("/proc/self/task"))
        descriptors = len(os.listdir("/proc/self/fd")) - 1  # listdir's own is not counted
        return cls(threads, descriptors, children)

    @classmethod
    def settled_since(cls, before, settle_s=0.2):
        """of_this_process(), counted again for up to 200 ms while it holds more threads or
        children than `before`: a joined thread leaves /proc a moment after join returns."""
        gc.collect()
        deadline = time.monotonic() + settle_s
        while True:
            now = cls.of_this_process()
            settled = now.threads <= before.threads and now.children <= before.children
            if settled or time.monotonic() > deadline:
                return now
            time.sleep(0.005)

    def left_behind_since(self, before):
        """"left behind: 2 threads, 1 descriptor, 1 child process", or "" when none."""
        parts = []
        for count, one, many in ((self.threads - before.threads, "thread", "threads"),
                                 (self.descriptors - before.descriptors, "descriptor", "descriptors"),
                                 (self.children - before.children, "child process", "child processes")):
            if count > 0:
                parts.append("%d %s" % (count, one if count == 1 else many))
        return "left behind: " + ", ".join(parts) if parts else ""
