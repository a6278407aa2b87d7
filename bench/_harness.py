"""Shared by the benchmark scripts: rounds, medians and a table printer."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def rate(work: Callable[[], object], seconds: float = 0.5, rounds: int = 5) -> float:
    """Median calls per second over ``rounds`` rounds of about ``seconds`` each."""
    rates = []
    for _ in range(rounds):
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            work()
            count += 1
        rates.append(count / elapsed)
    return statistics.median(rates)


def duration(work: Callable[[], object], repeat: int = 50) -> float:
    """Median seconds of one call over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
