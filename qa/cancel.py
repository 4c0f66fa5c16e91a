"""Stopping a build from outside: a deadline, or a caller that went away (an HTTP client that hung up).

A build runs in a worker thread, which cannot be killed; it checks its `CancelToken` at the points
where stopping is cheap and safe (after each file read, after each batch of embeddings, while waiting
for another build's lock, and once more just before it publishes). A cancelled build raises
`BuildCancelled` and removes its unfinished folder; the serving index is untouched, so nothing of a
cancelled upload is ever half in the index. After publishing, a build is complete and stays.
"""
from __future__ import annotations

import threading
import time


class BuildCancelled(RuntimeError):
    """The build stopped before publishing: its deadline passed or its caller cancelled it."""

    def __init__(self, reason: str, timed_out: bool) -> None:
        super().__init__(reason)
        self.reason, self.timed_out = reason, timed_out


class CancelToken:
    """Checked by a running build; set by whoever started it (thread-safe)."""

    def __init__(self, timeout_s: float | None = None, what: str = "the build") -> None:
        self._deadline = time.monotonic() + timeout_s if timeout_s else None
        self._timeout_s = timeout_s
        self.what = what
        self._event = threading.Event()
        self._reason = ""

    def cancel(self, reason: str) -> None:
        if not self._event.is_set():
            self._reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or self.timed_out

    @property
    def timed_out(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None without one)."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def check(self) -> None:
        """Raise BuildCancelled if the build should stop now."""
        if self._event.is_set():
            raise BuildCancelled(f"{self.what} was cancelled: {self._reason}", timed_out=False)
        if self.timed_out:
            raise BuildCancelled(f"{self.what} took longer than its limit of {self._timeout_s:g} s",
                                 timed_out=True)


def check(token: CancelToken | None) -> None:
    """`token.check()`, for code that may run without a token."""
    if token is not None:
        token.check()
