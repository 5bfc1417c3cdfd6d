"""The one table `make bench` prints, and bench/RESULTS.md around it."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gateway.embedded_redis import redis_server_binary


@dataclass(frozen=True)
class Row:
    """One measured figure against the baseline measured in the same run, and its goal."""

    name: str
    value: str
    baseline: str = "—"
    ratio: str = "—"
    goal: str = "—"
    verdict: str = "—"  # "met", "MISSED", "not measured", or "—" (no goal: for information)

    def cells(self) -> list[str]:
        return [self.name, self.value, self.baseline, self.ratio, self.goal, self.verdict]


HEADER = ["measure", "value", "baseline (same run)", "ratio", "goal", "verdict"]


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    redis_version = subprocess.run([str(redis_server_binary()), "--version"],
                                   capture_output=True, text=True).stdout.split()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis": next((w[2:] for w in redis_version if w.startswith("v=")), "unknown"),
    }


def results_document(*, rows: list[Row], facts: dict[str, str], notes: list[str],
                     command: str, when: str, appendix: str) -> str:
    described = "\n".join(f"- **{k}:** {v}" for k, v in facts.items())
    noted = "\n".join(f"- {n}" for n in notes)
    return f"""# Benchmark results

Written by `{command}` on {when}; rerunning it rewrites this file. Every ratio compares two
figures measured in the same run, on the same server, so the machine's drift cancels out.

{markdown(rows)}

## The machine and the run

{described}

## Notes

{noted}
{appendix}"""
