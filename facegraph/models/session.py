"""onnxruntime sessions: one per model file per process, on CUDA only when CUDA really works."""

from __future__ import annotations

import ctypes
import functools
import logging
import os

import onnxruntime as ort

from facegraph.errors import ModelLoadError

log = logging.getLogger(__name__)

# Measured on the 2-core reference machine (see `python -m evaluation.benchmark_pipeline --threads`): one
# intra-op thread per core; inter-op parallelism only adds scheduling overhead for these small graphs.
DEFAULT_THREADS = min(2, os.cpu_count() or 1)


def cuda_device_present() -> bool:
    """True when the CUDA driver loads and reports at least one device."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


def choose_providers() -> list[str]:
    """CUDA first when onnxruntime has it and a GPU is there; the CPU alone otherwise.

    Asking for CUDA on a machine without a GPU makes onnxruntime log an error, so it is never asked for there.
    """
    if "CUDAExecutionProvider" in ort.get_available_providers() and cuda_device_present():
        if hasattr(ort, "preload_dlls"):
            ort.preload_dlls()  # the CUDA libraries installed from PyPI (onnxruntime-gpu[cuda,cudnn])
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@functools.lru_cache(maxsize=None)
def open_session(path: str, threads: int = DEFAULT_THREADS) -> ort.InferenceSession:
    """The process's one session for the model file at `path`."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: exports declare a fixed batch of 1 and warn on every batch
    # The detector's and the embedder's thread pools take turns; spinning idle threads of one would slow the other
    # (measured on 2 cores: 5 to 10% more images/s without spinning).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(path, sess_options=options, providers=choose_providers())
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/NoSuchFile types
        raise ModelLoadError(f"cannot load ONNX model {path}: {exc}") from exc
    log.info("loaded %s on %s", path, session.get_providers()[0])
    return session
