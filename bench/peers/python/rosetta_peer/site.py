"""What the peers need of the site truth (scenarios/site.cpp): the download order.

The order is a seeded Fisher-Yates shuffle of "/p/0" .. "/p/N-1" driven by the site's splitmix64
generator, so every model, C++ or Python, fetches the same sequence. Reproduced bit for bit:
Python's integers are unbounded, so every step is masked to 64 bits, and Rng.below is the
128-bit multiply-shift (Lemire) of the C++.
"""

__all__ = ["Rng", "stream_seed", "download_paths", "STREAM_LINKS", "STREAM_FILLER",
           "STREAM_SHUFFLE", "STREAM_FAULTS"]

_MASK = (1 << 64) - 1
_GOLDEN_GAMMA = 0x9E3779B97F4A7C15

# Independent streams of one seed (enum class Stream in site.cpp).
STREAM_LINKS, STREAM_FILLER, STREAM_SHUFFLE, STREAM_FAULTS = 1, 2, 3, 4


def _finalize(x):
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _mix(x):
    return _finalize((x + _GOLDEN_GAMMA) & _MASK)


class Rng:
    """splitmix64 (Steele, Lea, Flood 2014), as site.cpp's Rng."""

    __slots__ = ("state",)

    def __init__(self, seed):
        self.state = seed & _MASK

    def next(self):
        self.state = (self.state + _GOLDEN_GAMMA) & _MASK
        return _finalize(self.state)

    def below(self, n):
        """Uniform in [0, n) by multiply-shift."""
        return (self.next() * n) >> 64


def stream_seed(seed, stream, index):
    return _mix((_mix((seed ^ (stream << 56)) & _MASK) + index) & _MASK)


def download_paths(seed, pages):
    """"/p/0" .. "/p/N-1" in the seeded shuffled order of Site::download_paths()."""
    paths = ["/p/%d" % i for i in range(pages)]
    rng = Rng(stream_seed(seed, STREAM_SHUFFLE, 0))
    for i in range(pages - 1, 0, -1):
        j = rng.below(i + 1)
        paths[i], paths[j] = paths[j], paths[i]
    return paths
