"""Entry of the Python peers: /usr/bin/python3 peer.py PEER-ID [the model options].

build/bin/rosetta-py-<x> is a wrapper that execs this with its id; rosetta_peer/main.py does
the work (options, records, the result line), peers/<id>.py the fetching.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rosetta_peer.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv))
