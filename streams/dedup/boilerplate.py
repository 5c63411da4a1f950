"""Boilerplate: shingles that many different held stories carry (a site's footer, a template).

A story copied into another site's page brings that site's header and footer along; two short
notices wrapped by the same site share more boilerplate than text, and their containment can
pass the threshold (docs/dedup.md).  :class:`ShingleCounts` counts, per shingle, the held
stories that brought it in *new*: an original counts all its shingles, a copy or an update only
the ones its matched story does not have, an exact duplicate none.  So the text of one story
counts once however often it is re-published, and a footer counts once per story it wraps.
:func:`boilerplate_veto` then re-checks an accepted pair without the common shingles.

The counts are a counting sketch (``2**bits`` buckets of the 32-bit shingle hashes, u16; 2 x 8
MB at the default 22 bits), in two generations of half the window each: counts age out with the
window instead of being taken back on eviction.  A bucket that wraps past 65,535 in one
generation reads as rare again, which only turns the check off for it.  Derived and in memory,
like the candidate index; rebuilt with it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_Counts = npt.NDArray[np.uint16]
_ONE = np.uint16(1)


def shingle_array(raw: bytes) -> npt.NDArray[np.uint32]:
    """Stored shingle hashes (u32 little endian bytes) as an array."""
    return np.frombuffer(raw, dtype="<u4", count=len(raw) // 4)


class ShingleCounts:
    """How many held stories brought each shingle in (approximately; see the module doc).

    Additions wait in a batch (u32 little-endian bytes, as stored) until the next look-up, a
    new generation or ``batch`` of them: one numpy update per batch instead of one per story.
    """

    def __init__(self, span_seconds: float, bits: int = 22, batch: int = 256) -> None:
        self.span = span_seconds
        self.mask = np.uint32((1 << bits) - 1)
        self.current: _Counts = np.zeros(1 << bits, dtype=np.uint16)
        self.previous: _Counts = np.zeros(1 << bits, dtype=np.uint16)
        self.started = float("-inf")
        self.batch = batch
        self.pending: list[bytes] = []

    def add(self, shingles: bytes, watermark: float) -> None:
        if watermark - self.started >= self.span:
            self._flush()
            self._roll(watermark)
        if shingles:
            self.pending.append(shingles)
            if len(self.pending) >= self.batch:
                self._flush()

    def of(self, shingles: npt.NDArray[np.uint32]) -> npt.NDArray[np.int32]:
        self._flush()
        buckets = shingles & self.mask
        total: npt.NDArray[np.int32] = self.current[buckets].astype(np.int32)
        total += self.previous[buckets]
        return total

    def _flush(self) -> None:
        if self.pending:
            np.add.at(self.current, shingle_array(b"".join(self.pending)) & self.mask, _ONE)
            self.pending.clear()

    def _roll(self, watermark: float) -> None:
        if watermark - self.started < 2 * self.span:
            self.previous, self.current = self.current, self.previous
            self.current.fill(0)
        else:  # the first story, or a jump of more than a window: nothing recent is left
            self.previous.fill(0)
            self.current.fill(0)
        self.started = watermark


def as_array(values: set[int]) -> npt.NDArray[np.uint32]:
    return np.fromiter(values, dtype=np.uint32, count=len(values))


def new_shingles(mine: set[int], known: set[int]) -> bytes:
    """The shingles a copy brings in that ``known`` (its matched story's) does not have, as
    stored (u32 little endian)."""
    values = mine - known
    return np.fromiter(values, dtype="<u4", count=len(values)).tobytes()


def common(shingles: set[int], counts: ShingleCounts, min_count: int) -> set[int]:
    """The shingles at least ``min_count`` held stories brought in."""
    values = as_array(shingles)
    return set(values[counts.of(values) >= min_count].tolist())


def passes_on_boilerplate(mine: set[int], theirs: set[int], counts: ShingleCounts,
                          min_count: int, min_size: int, min_containment: float) -> bool:
    """:func:`boilerplate_veto` with the common shingles looked up (the shared ones first:
    when none of those is common, dropping the others only raises both scores)."""
    boiler = common(mine & theirs, counts, min_count)
    if not boiler:
        return False
    boiler |= common(mine ^ theirs, counts, min_count)
    return boilerplate_veto(mine, theirs, boiler, min_size, min_containment)


def boilerplate_veto(mine: set[int], theirs: set[int], boiler: set[int], min_size: int,
                     min_containment: float) -> bool:
    """True when the pair shares little but its common shingles.

    Without the ``boiler`` shingles, both stories must keep ``min_size`` shingles (else there
    is too little left to judge and the pair stands) and still share ``min_containment`` of the
    smaller rest.  That bar is below the containment threshold: template lines are common
    too, and a copy with a few words edited in its figures keeps less than the threshold of
    its rest, while two stories in one site's page keep next to none.
    """
    if (mine & theirs).isdisjoint(boiler):  # then dropping it only raises both scores
        return False
    own_a, own_b = mine - boiler, theirs - boiler
    small = min(len(own_a), len(own_b))
    if small < min_size:
        return False
    return len(own_a & own_b) < min_containment * small
