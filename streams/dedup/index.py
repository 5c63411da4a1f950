"""The in-memory candidate index, derived from the ``stories`` table and rebuilt from it.

Nothing here is the source of truth: after a restart (or a rebalance) the index is rebuilt
lazily from the stored records, which carry each story's MinHash state, anchors and event time.

* ``lsh``      rensa ``RMinHashLSH`` over the stories' MinHash signatures (int handles);
* ``anchors``  anchor shingle hash -> recent handles (bounded posting lists);
* ``heap``     (event_time, story_id) min-heap for eviction by window and size cap.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from rensa import RMinHash, RMinHashLSH


@dataclass(slots=True)
class Entry:
    handle: int
    event_time: float
    anchors: tuple[int, ...]


@dataclass(slots=True)
class CandidateIndex:
    num_perm: int
    num_bands: int
    max_posting: int = 32
    lsh: RMinHashLSH = field(init=False)
    entries: dict[str, Entry] = field(default_factory=dict)
    ids: dict[int, str] = field(default_factory=dict)
    # One handle (int) or a list of handles, newest last, at most ``max_posting``.
    anchors: dict[int, int | list[int]] = field(default_factory=dict)
    heap: list[tuple[float, str]] = field(default_factory=list)
    next_handle: int = 0
    watermark: float = float("-inf")

    def __post_init__(self) -> None:
        self.lsh = RMinHashLSH(0.5, self.num_perm, self.num_bands)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, story_id: str, minhash: RMinHash | None, anchors: Iterable[int],
            event_time: float) -> None:
        self.remove(story_id)
        handle = self.next_handle
        self.next_handle += 1
        anchor_tuple = tuple(anchors)
        self.entries[story_id] = Entry(handle, event_time, anchor_tuple)
        self.ids[handle] = story_id
        if minhash is not None:
            self.lsh.insert(handle, minhash)
        postings = self.anchors
        for a in anchor_tuple:
            posting = postings.get(a)
            if posting is None:
                postings[a] = handle
            elif isinstance(posting, int):
                postings[a] = [posting, handle]
            else:
                posting.append(handle)
                if len(posting) > self.max_posting:
                    del posting[0]
        heapq.heappush(self.heap, (event_time, story_id))
        if event_time > self.watermark:
            self.watermark = event_time

    def remove(self, story_id: str) -> bool:
        entry = self.entries.pop(story_id, None)
        if entry is None:
            return False
        self.ids.pop(entry.handle, None)
        self.lsh.remove(entry.handle)
        postings = self.anchors
        for a in entry.anchors:
            posting = postings.get(a)
            if posting is None:
                continue
            if isinstance(posting, int):
                if posting == entry.handle:
                    del postings[a]
                continue
            try:
                posting.remove(entry.handle)
            except ValueError:
                continue  # already pushed out of a full posting list
            if len(posting) == 1:
                postings[a] = posting[0]
            elif not posting:
                del postings[a]
        # The heap entry is dropped lazily (see ``pop_oldest``).
        return True

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
