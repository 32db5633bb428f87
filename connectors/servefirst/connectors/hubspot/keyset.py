"""Keyset pages of a deal search, read ahead on a second thread.

A pull's searches are its slowest calls to pace: HubSpot allows five a second per portal, and
every page must wait for the previous one (its request names the last id read). Reading them
on a thread of their own lets them go out as fast as their limit allows while the pull reads
each page's surroundings, instead of each search waiting for the previous page's batch reads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from servefirst.connectors.hubspot.records import next_after, results

#: Pages read ahead of the one being processed (each up to 200 deals).
READ_AHEAD_PAGES = 4

_DONE = object()


class PageReader:
    """Iterates the pages of one keyset search, ``depth`` pages ahead, in order.

    Args:
        search: reads the page after an id (``None``: the first page) and returns the raw
            reply; an error it raises is raised to the iterating thread, in page order.
        depth: how many pages may wait, read, for the consumer.

    Use it as a context manager: leaving early stops the reader after the request in flight
    (whose page is dropped), so a stopped or crashed run leaves no thread behind.
    """

    def __init__(self, search: Callable[[str | None], Any], depth: int = READ_AHEAD_PAGES) -> None:
        self._search = search
        self._pages: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="hubspot-read-ahead", daemon=True)

    def __enter__(self) -> PageReader:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        while self._thread.is_alive():
            self._drain()
            self._thread.join(timeout=0.05)

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        while True:
            item = self._pages.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _read(self) -> None:
        last_id: str | None = None
        try:
            while not self._stop.is_set():
                reply = self._search(last_id)
                page = results(reply)
                self._put(page)
                if not page or next_after(reply) is None:
                    break
                last_id = max((str(r["id"]) for r in page), key=id_order)
        except BaseException as exc:  # handed to the consumer, who raises it
            self._put(exc)
            return
        self._put(_DONE)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=0.05)
            except queue.Full:
                continue
            return

    def _drain(self) -> None:
        while True:
            try:
                self._pages.get_nowait()
            except queue.Empty:
                return


def id_order(value: str) -> tuple[int, str]:
    """HubSpot ids are numbers: order them as numbers (``"10" > "9"``)."""
    return (int(value), value) if value.isdigit() else (-1, value)
