"""Wall-clock and CPU time added up over the blocks a benchmark times."""

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stopwatch:
    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu

    def per(self, n: int) -> str:
        """Milliseconds of each, per one of N."""
        return f"{1000 * self.wall / n:.1f} ms wall, {1000 * self.cpu / n:.1f} ms CPU"
