"""Keep TensorFlow's start-up noise off the terminal on CPU-only machines, without hiding real errors.

Importing TensorFlow (2.16+) writes lines like these to stderr, from C++, on every command::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. You may see slightly different ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ... (303)

``TF_CPP_MIN_LOG_LEVEL`` does not remove the first three: they are logged through absl while the
shared libraries load, before TensorFlow applies the variable (absl writes everything to stderr
until ``absl::InitializeLog()``). ``TF_CPP_MIN_LOG_LEVEL=3`` would remove the cuInit line, but also
every other C++ ERROR (allocation failures, missing kernels), and ``CUDA_VISIBLE_DEVICES=""`` does
not stop the cuInit call. So :func:`install` filters them instead: a one-shot import hook runs the
first ``import tensorflow`` (and, on a machine without an NVIDIA driver, the GPU enumeration that
triggers cuInit) with file descriptor 2 sent through a pipe, and a thread copies every line to the
real stderr except the lines of :data:`NOISE` (and of :data:`NO_DRIVER_NOISE` when no NVIDIA driver
is installed). Anything else TensorFlow prints, before or after, is untouched.

Turn the filter off with ``ECGNET_QUIET_TF=0`` (or ``TF_CPP_MIN_LOG_LEVEL=0``, "show everything").
"""
from __future__ import annotations

import glob
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

#: Lines (substrings) dropped from stderr while TensorFlow loads, on any machine.
NOISE: tuple[str, ...] = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on.",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
)
#: Lines dropped only when no NVIDIA driver is installed (on a GPU machine they are real errors).
NO_DRIVER_NOISE: tuple[str, ...] = (
    "Could not find cuda drivers on your machine, GPU will not be used.",
    "failed call to cuInit",
)
_OFF = ("0", "false", "no", "off")


def nvidia_driver_present() -> bool:
    """True when an NVIDIA driver looks installed: /proc/driver/nvidia, /dev/nvidiactl, WSL's
    /dev/dxg, or a libcuda.so (the driver library) in LD_LIBRARY_PATH or the usual library folders."""
    if sys.platform != "linux":
        return sys.platform == "win32"  # TensorFlow has no CUDA on macOS; leave Windows alone
    if any(os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg")):
        return True
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    dirs += ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
             "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"]
    return any(glob.glob(os.path.join(d, "libcuda.so*")) for d in dirs)


def _is_noise(line: bytes, patterns: Sequence[bytes]) -> bool:
    return any(p in line for p in patterns)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            n = os.write(fd, data)
        except OSError:  # pragma: no cover - stderr gone: nothing more to do
            return
        data = data[n:]


@contextmanager
def filtered_stderr(patterns: Sequence[str]) -> Iterator[None]:
    """Inside the block, lines written to file descriptor 2 (C++ included) that contain one of
    ``patterns`` are dropped; all others reach the original stderr, line by line as they come."""
    pats = [p.encode() for p in patterns]
    try:
        sys.stderr.flush()
    except Exception:  # pragma: no cover - closed or replaced stderr
        pass
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no fd 2 (e.g. some service managers): nothing to filter
        yield
        return
    try:
        r, w = os.pipe()
    except OSError:  # pragma: no cover - out of file descriptors
        os.close(saved)
        yield
        return

    def pump() -> None:
        buf = b""
        try:
            while True:
                try:
                    data = os.read(r, 65536)
                except OSError:  # pragma: no cover
                    data = b""
                if not data:
                    break
                buf += data
                *lines, buf = buf.split(b"\n")
                out = b"".join(ln + b"\n" for ln in lines if not _is_noise(ln, pats))
                if out:
                    _write_all(saved, out)
            if buf and not _is_noise(buf, pats):
                _write_all(saved, buf)
        finally:
            os.close(r)
            os.close(saved)

    thread = threading.Thread(target=pump, name="ecgnet-quiet-stderr", daemon=True)
    thread.start()
    os.dup2(w, 2)
    os.close(w)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except Exception:  # pragma: no cover
            pass
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump sees EOF, forwards the rest, exits
        # (a child process started meanwhile could still hold the pipe: then the pump keeps forwarding
        # its output in the background and closes the descriptors when it ends)
        thread.join(timeout=5)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """One-shot meta-path hook: the first ``import tensorflow`` runs inside :func:`filtered_stderr`."""

    def __init__(self, patterns: Sequence[str], probe_gpu: bool):
        self.patterns = tuple(patterns)
        self.probe_gpu = probe_gpu

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        uninstall()
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original = loader.exec_module
        patterns, probe_gpu = self.patterns, self.probe_gpu

        def exec_module(module) -> None:
            try:
                with filtered_stderr(patterns):
                    original(module)
                    if probe_gpu:
                        # the cuInit attempt happens on the first device query; do it here, filtered
                        try:
                            module.config.list_physical_devices("GPU")
                        except Exception:  # pragma: no cover - leave it to the real first use
                            pass
            finally:
                try:
                    del loader.exec_module  # back to the class method
                except AttributeError:  # pragma: no cover
                    pass

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):  # pragma: no cover - a loader that cannot be patched
            pass
        return spec


def uninstall() -> None:
    """Remove the import hook (if installed)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowImport)]


def install(user_min_log_level: str | None = None) -> bool:
    """Install the import hook unless TensorFlow is already imported or the user asked for logs.

    ``user_min_log_level``: ``TF_CPP_MIN_LOG_LEVEL`` as the user set it (None when unset); "0" keeps
    every line. Returns True when the hook was installed.
    """
    if os.environ.get("ECGNET_QUIET_TF", "1").strip().lower() in _OFF or user_min_log_level == "0":
        return False
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        return False
    no_driver = not nvidia_driver_present()
    patterns = NOISE + (NO_DRIVER_NOISE if no_driver else ())
    sys.meta_path.insert(0, _QuietTensorFlowImport(patterns, probe_gpu=no_driver))
    return True
