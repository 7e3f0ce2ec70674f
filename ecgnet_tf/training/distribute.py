"""Distributed training helpers: the tf.distribute strategy, who the chief is, and the checks that
keep the workers of a multi-worker run in step (same settings, same data, same resume point)."""
from __future__ import annotations

import hashlib
import zlib

import numpy as np


def make_strategy(name: str):
    """The tf.distribute strategy for ``name``; mirrored without GPUs uses two logical CPU devices."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":  # the cluster and this worker's task come from $TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:  # must happen before the runtime starts; listing logical devices would start it
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    except RuntimeError as exc:
        raise RuntimeError("--strategy mirrored on CPU needs a fresh process (TensorFlow already started)") from exc
    return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")[:2]])


def is_chief(strategy) -> bool:
    """Whether this process writes the run folder: always, except in a multi-worker cluster, where only
    the ``chief`` task does (worker 0 when the cluster has no chief), as ``tf.distribute`` decides."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if task_type is None:  # single process (default, mirrored) or multiworker without a cluster
        return True
    if task_type == "chief":
        return True
    return task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def worker_label(strategy) -> str | None:
    """``"worker 1 of 2"`` in a multi-worker cluster, else None."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if getattr(resolver, "task_type", None) is None:
        return None
    n = sum(len(v) for k, v in resolver.cluster_spec().as_dict().items() if k in ("chief", "worker"))
    return f"{resolver.task_type} {resolver.task_id} of {n}"


def weights_digest(weights: list[np.ndarray]) -> str:
    """A short SHA-256 of a model's weights (``model.get_weights()``): equal digests, bit-equal weights."""
    h = hashlib.sha256()
    for w in weights:
        w = np.ascontiguousarray(w)
        h.update(f"{w.dtype.str}{w.shape}".encode())
        h.update(w.tobytes())
    return h.hexdigest()[:16]


def check_workers_agree(strategy, facts: dict[str, int]) -> None:
    """Raise ValueError unless every worker of the cluster has the same ``facts`` (integers).

    A collective operation: every worker must call it at the same point. Workers that disagree on the
    data, the settings or the epoch to resume from would run different step counts (or train different
    models) and hang or diverge, so they stop here instead, saying what differs.
    """
    import tensorflow as tf

    names = list(facts)
    local = tf.constant([[int(facts[k]) for k in names]], tf.int64)
    # one row per replica (all of a worker's replicas carry that worker's facts)
    rows = strategy.gather(strategy.experimental_distribute_values_from_function(lambda ctx: local), axis=0).numpy()
    differ = [k for i, k in enumerate(names) if len(set(rows[:, i].tolist())) > 1]
    if differ:
        raise ValueError(f"the workers of the cluster disagree on {', '.join(differ)}: every worker needs the same "
                         "command (except TF_CONFIG), the same --data-dir contents and, with --resume, the chief's "
                         "run folder at --out (a shared file system, or a copy of it on every machine)")


def shard_batches(ds):
    """``ds`` (global batches) with the DATA auto-shard policy: in a multi-worker run every worker builds
    the same dataset and tf.distribute keeps that worker's share of every global batch (no FILE sharding:
    the batches are gathered by index, there are no files to divide)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def crc32(*arrays: np.ndarray) -> int:
    crc = 0
    for a in arrays:
        crc = zlib.crc32(np.ascontiguousarray(a).view(np.uint8).reshape(-1), crc)
    return crc
