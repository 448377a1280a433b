"""The shared core of the Python peers: what scenarios/ is for the C++ models.

A peer module (peers/<id>.py) defines download(run) and crawl(run) and uses only this:

    Run       the spec, the download order, the crawl's start and frontier, attempts, records
    Attempt   one try of one URL: stamps, and how it ended (response, failed, failed_by)
    Frontier  the crawl's bookkeeping: each URL once, the budget, this origin only
    lane()    the OS thread id, the record's lane
    OUTCOMES  the seven outcome classes

See README.md ("API") for the contract and the shape of a peer's fetch loop.
"""

from .frontier import Frontier
from .records import OUTCOMES, Attempt, LimitReached, is_retryable, lane
from .run import Run

__all__ = ["Run", "Attempt", "Frontier", "lane", "OUTCOMES", "LimitReached", "is_retryable"]
