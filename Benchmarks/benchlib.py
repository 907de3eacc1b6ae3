"""Helpers shared by the side-by-side benchmark scripts."""
import time


def best_of(n, fn):
    """Runs fn n times; returns (fastest seconds, all timings)."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), times
