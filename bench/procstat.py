"""What a process costs, from /proc: CPU seconds used and peak resident memory.

`cpu_seconds(pid)` is utime + stime (children that exited and were waited for included), so the
difference across a measurement is the CPU the process spent on it, whatever else the machine
was doing. `PeakMemory` samples the resident memory of a process and everything below it (RQ's
scheduler, any forked work horse) on a thread, since a child's own high-water mark is gone once
it exits.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from stack import descendants

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for each in [pid, *descendants(pid)]:
        try:
            total += cpu_seconds(each)
        except OSError:
            pass  # exited between the listing and the read
    return total


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def tree_rss_kb(pid: int) -> int:
    total = 0
    for each in [pid, *descendants(pid)]:
        try:
            total += status_kb(each, "VmRSS")
        except OSError:
            pass
    return total


class PeakMemory:
    """The largest resident size seen for each process tree, sampled every `interval` s."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self.pids = dict(pids)
        self.peak_kb: dict[str, int] = dict.fromkeys(pids, 0)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, name: str, pid: int) -> None:
        self.pids[name] = pid
        self.peak_kb.setdefault(name, 0)

    def start(self) -> PeakMemory:
        self._thread.start()
        return self

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        self.sample()
        return dict(self.peak_kb)

    def sample(self) -> None:
        for name, pid in list(self.pids.items()):
            try:
                tree = tree_rss_kb(pid)
                own_peak = status_kb(pid, "VmHWM")  # the kernel's high-water mark, exact
            except OSError:
                continue  # stopped already
            self.peak_kb[name] = max(self.peak_kb[name], tree, own_peak)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()
