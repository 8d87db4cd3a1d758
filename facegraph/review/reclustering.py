"""A recluster started from the page: it runs in a thread of its own, holding the store, while the page shows its
progress (the phase it is in, the seconds so far) and, at the end, what it did."""

from __future__ import annotations

import threading
import time

from facegraph.recluster import CLUSTER_PHASES


class ReclusterJob:
    """The page's one recluster: at most one runs at a time."""

    def __init__(self, graph, lock: threading.Lock):
        self.graph, self.lock = graph, lock
        self.phase: str | None = None
        self.started = self.finished = None
        self.report = None  # the `ClusterReport` of the last run
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start a recluster; False if one is running already."""
        if self.running:
            return False
        self.phase, self.started, self.finished, self.report, self.error = CLUSTER_PHASES[0], time.time(), None, None, None
        self._thread = threading.Thread(target=self._run, name="facegraph-recluster", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        try:
            with self.lock:
                self.report = self.graph.cluster_all(phase=self._enter)
        except Exception as exc:  # shown on the page: the store's state is the library's to keep (journaled)
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished = time.time()

    def _enter(self, phase: str) -> None:
        self.phase = phase

    def status(self) -> dict:
        """What the page shows: running or not, the phase as "step n of m", the seconds so far, the result."""
        step = CLUSTER_PHASES.index(self.phase) + 1 if self.phase in CLUSTER_PHASES else None
        end = self.finished or time.time()
        return {"running": self.running, "phase": self.phase, "step": step, "steps": len(CLUSTER_PHASES),
                "seconds": round(end - self.started, 1) if self.started else None, "error": self.error,
                "report": self.report}
