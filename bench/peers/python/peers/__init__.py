"""One module per peer, named after its id (py-threads -> py_threads.py)."""
