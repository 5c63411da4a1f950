"""The in-memory candidate index, derived from the ``stories`` table and rebuilt from it.

Nothing here is the source of truth: after a restart (or a rebalance) the index is rebuilt
lazily from the stored records, which carry each story's MinHash state, anchors and event time.

* ``lsh``      rensa ``RMinHashLSH`` over the stories' MinHash signatures (int handles);
* ``anchors``  anchor shingle hash -> recent handles (bounded posting lists);
* ``events``   event key (name / ticker hash) -> recent handles (bounded posting lists; a full
               list marks a key too common to tell events apart), for ``cluster_id``;
* ``heap``     (event_time, story_id) min-heap for eviction by window and size cap;
* ``counts``   how many held stories brought each shingle in (boilerplate, ``boilerplate.py``).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rensa import RMinHash, RMinHashLSH

from streams.dedup.boilerplate import ShingleCounts


@dataclass(slots=True)
class Entry:
    handle: int
    event_time: float
    anchors: tuple[int, ...]
    event_keys: tuple[int, ...] = ()
    cluster: str = ""
    tickers: tuple[int, ...] = ()


def _post_all(postings: dict[int, int | list[int]], keys: Iterable[int], handle: int,
              cap: int) -> None:
    """Add ``handle`` to the posting of every key, keeping the ``cap`` newest per key."""
    get = postings.get
    for key in keys:
        posting = get(key)
        if posting is None:  # the common case: a key no other held story has
            postings[key] = handle
        elif isinstance(posting, int):
            postings[key] = [posting, handle]
        else:
            posting.append(handle)
            if len(posting) > cap:
                del posting[0]


def _unpost_all(postings: dict[int, int | list[int]], keys: Iterable[int], handle: int) -> None:
    """Remove ``handle`` from the posting of every key."""
    get = postings.get
    for key in keys:
        posting = get(key)
        if posting is None:
            continue
        if isinstance(posting, int):
            if posting == handle:  # the common case: only this story had the key
                del postings[key]
            continue
        # Handles only grow and are appended, so a posting list is sorted: the oldest (the
        # one eviction removes) is first, and one below the first was pushed out of a full
        # list already (the common case for a frequent key).
        first = posting[0]
        if handle < first:
            continue
        if handle == first:
            del posting[0]
        else:
            i = bisect_left(posting, handle)
            if i == len(posting) or posting[i] != handle:
                continue
            del posting[i]
        if len(posting) == 1:
            postings[key] = posting[0]


@dataclass(slots=True)
class CandidateIndex:
    num_perm: int
    num_bands: int
    max_posting: int = 32
    # Event keys: the newest holders only; a full list marks a key too common to count.
    max_event_posting: int = 8
    lsh: RMinHashLSH = field(init=False)
    entries: dict[str, Entry] = field(default_factory=dict)
    ids: dict[int, str] = field(default_factory=dict)
    # One handle (int) or a list of handles, newest last, at most ``max_posting``.
    anchors: dict[int, int | list[int]] = field(default_factory=dict)
    events: dict[int, int | list[int]] = field(default_factory=dict)
    heap: list[tuple[float, str]] = field(default_factory=list)
    next_handle: int = 0
    watermark: float = float("-inf")
    # Shingle counts age out in two generations of half this (the window) each.
    window_seconds: float = 72 * 3600.0
    counts: ShingleCounts = field(init=False)

    def __post_init__(self) -> None:
        self.lsh = RMinHashLSH(0.5, self.num_perm, self.num_bands)
        self.counts = ShingleCounts(self.window_seconds / 2)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, story_id: str, minhash: RMinHash | None, anchors: Iterable[int],
            event_time: float, event_keys: Iterable[int] = (), cluster: str = "",
            tickers: Iterable[int] = ()) -> None:
        self.remove(story_id)
        handle = self.next_handle
        self.next_handle += 1
        entry = Entry(handle, event_time, tuple(anchors), tuple(event_keys),
                      cluster or story_id, tuple(tickers))
        self.entries[story_id] = entry
        self.ids[handle] = story_id
        if minhash is not None:
            self.lsh.insert(handle, minhash)
        _post_all(self.anchors, entry.anchors, handle, self.max_posting)
        _post_all(self.events, entry.event_keys, handle, self.max_event_posting)
        heapq.heappush(self.heap, (event_time, story_id))
        if event_time > self.watermark:
            self.watermark = event_time

    def remove(self, story_id: str) -> bool:
        entry = self.entries.pop(story_id, None)
        if entry is None:
            return False
        self.ids.pop(entry.handle, None)
        self.lsh.remove(entry.handle)
        _unpost_all(self.anchors, entry.anchors, entry.handle)
        _unpost_all(self.events, entry.event_keys, entry.handle)
        # The heap entry is dropped lazily (see ``pop_oldest``).
        return True

    def event_cluster(self, keys: Sequence[int], tickers: Sequence[int], event_time: float,
                      window: float, min_shared: int, overlap: float, exclude: str,
                      common: int | None = None) -> str | None:
        """The cluster of the held story sharing the most event keys (names, tickers).

        Keys held by ``common`` (at most ``max_event_posting``) or more of the newest stories
        are too common to count.  A candidate needs ``min_shared`` shared keys, ``overlap`` of the smaller key
        set, an event time within ``window`` seconds, and no ticker conflict.
        """
        if len(keys) < min_shared:
            return None
        counts: dict[int, int] = {}
        postings = self.events
        usable = 0
        limit = min(common or self.max_event_posting, self.max_event_posting)
        for k in keys:
            posting = postings.get(k)
            if posting is None:
                usable += 1
                continue
            if isinstance(posting, int):
                counts[posting] = counts.get(posting, 0) + 1
            elif len(posting) >= limit:
                continue
            else:
                for handle in posting:
                    counts[handle] = counts.get(handle, 0) + 1
            usable += 1
        best: tuple[float, str] | None = None
        best_cluster: str | None = None
        for handle, n in counts.items():
            if n < min_shared:
                continue
            sid = self.ids.get(handle)
            if sid is None or sid == exclude:
                continue
            entry = self.entries[sid]
            if abs(entry.event_time - event_time) > window:
                continue
            if tickers and entry.tickers and set(tickers).isdisjoint(entry.tickers):
                continue
            score = n / max(1, min(usable, len(entry.event_keys)))
            if score < overlap:
                continue
            key = (-score, sid)
            if best is None or key < best:
                best = key
                best_cluster = entry.cluster
        return best_cluster

    def candidates(self, minhash: RMinHash, anchors: Iterable[int], min_shared: int) -> set[str]:
        """Story ids sharing an LSH band, or at least ``min_shared`` anchors, with the query."""
        out: set[str] = set()
        ids = self.ids
        for handle in self.lsh.query(minhash):
            sid = ids.get(handle)
            if sid is not None:
                out.add(sid)
        counts: dict[int, int] = {}
        postings = self.anchors
        for a in anchors:
            posting = postings.get(a)
            if posting is None:
                continue
            if isinstance(posting, int):
                counts[posting] = counts.get(posting, 0) + 1
            else:
                for handle in posting:
                    counts[handle] = counts.get(handle, 0) + 1
        for handle, n in counts.items():
            if n >= min_shared:
                sid = ids.get(handle)
                if sid is not None:
                    out.add(sid)
        return out

    def pop_oldest(self, older_than: float | None) -> str | None:
        """Remove and return the story with the oldest event time (if older than the bound)."""
        heap = self.heap
        while heap:
            event_time, story_id = heap[0]
            entry = self.entries.get(story_id)
            if entry is None or entry.event_time != event_time:
                heapq.heappop(heap)  # stale: removed or re-added with another time
                continue
            if older_than is not None and event_time >= older_than:
                return None
            heapq.heappop(heap)
            self.remove(story_id)
            return story_id
        return None

    def compact_heap(self) -> None:
        """Drop stale heap entries when they outnumber the live ones (bounded memory)."""
        if len(self.heap) > 2 * len(self.entries) + 1024:
            self.heap = [(e.event_time, sid) for sid, e in self.entries.items()]
            heapq.heapify(self.heap)
