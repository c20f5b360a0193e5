"""Peak resident memory of a block of code, sampled from ``/proc/self/status`` (Linux)."""

from __future__ import annotations

import threading
from pathlib import Path

STATUS = Path("/proc/self/status")


def rss_bytes() -> int | None:
    """Resident set size of this process now (None where ``/proc`` is missing)."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class PeakRSS:
    """Context manager: ``peak`` is the largest RSS seen (every ``interval`` s) inside the block,
    ``start`` the RSS on entry; both in bytes (None where unsupported)."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.start, self.peak = interval, None, None
        self._stop = threading.Event()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            now = rss_bytes()
            if now is not None:
                self.peak = max(self.peak or 0, now)

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        now = rss_bytes()
        if now is not None:
            self.peak = max(self.peak or 0, now)

    @property
    def added_mb(self) -> float | None:
        """Peak minus the RSS on entry, in MiB."""
        return None if self.start is None else (self.peak - self.start) / 2**20
