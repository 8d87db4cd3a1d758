"""Benchmark of the exact neighbour graph's memory: one dense person (every pair passes the default's bar) and random
faces at τ 0 (every pair passes), each built in a fresh process. Prints seconds and peak RSS and the machine; it
asserts nothing.

    python -m evaluation.benchmark_graph_memory [FACES ...]      # default: 6000
"""

from __future__ import annotations

import subprocess
import sys

from evaluation.benchmark_pipeline import machine
from facegraph.cluster_settings import ClusterSettings

DEFAULT = ClusterSettings()


def graph_memory(kind: str, size: int) -> str:
    """The exact neighbour graph in a fresh process, of one synthetic person of `size` faces at the default's
    bar ("person": every pair of a dense person passes it) or of `size` random faces at τ 0 ("random": every pair
    passes): its seconds and that process's peak RSS, beside the peak of a process that only made the faces."""
    make = ("import numpy as np\n"
            + ("from evaluation.synthetic_faces import faces_of_persons\n"
               f"vectors = faces_of_persons(np.zeros({size}, dtype=np.int64), np.random.default_rng(2))\n"
               f"threshold = {DEFAULT.lowest_threshold}\n" if kind == "person" else
               f"vectors = np.random.default_rng(0).normal(size=({size}, 512)).astype(np.float32)\n"
               "vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)\nthreshold = 0.0\n")
            + "import resource, time\nfrom facegraph import neighbours\n")
    build = (f"start = time.perf_counter(); neighbours.neighbour_graph(vectors, threshold=threshold, "
             f"k={DEFAULT.neighbours}, approximate=False); print(time.perf_counter() - start)\n")
    peak = "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10)\n"
    base = subprocess.run([sys.executable, "-c", make + peak], check=True, capture_output=True, text=True).stdout
    seconds, mib = subprocess.run([sys.executable, "-c", make + build + peak], check=True, capture_output=True,
                                  text=True).stdout.split()
    return f"{float(seconds):.1f}s, peak RSS {float(mib):.0f} MiB (the faces alone: {float(base):.0f} MiB)"


def main() -> None:
    print(f"machine: {machine()}")
    for size in map(int, sys.argv[1:] or ["6000"]):
        print(f"exact graph of one person of {size} faces: {graph_memory('person', size)}")
        print(f"exact graph of {size} random faces at τ 0: {graph_memory('random', size)}")


if __name__ == "__main__":
    main()
