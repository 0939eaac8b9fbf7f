"""The one place posebench runs work on several threads.

numpy releases the GIL inside its array loops, so threads over chunks of a batch use the cores
without copying data to processes. Two shapes of work:

- `for_each_chunk(n, work)`: ``work(slice)`` over fixed-size chunks of ``range(n)`` writing into
  preallocated outputs (the metrics core); results do not depend on the thread count.
- `parallel_map(fn, items)`: ordered results of ``fn(item)`` (e.g. one part of a batch per
  thread, `split_batch`), used by the geometry solvers.
- `process_map(fn, items)`: the same in worker processes, for work that holds the GIL (the
  Python loop of scikit-learn's MiniBatchKMeans: threads gained nothing on its fits).

Thread count: $POSEBENCH_NUM_THREADS, else min(2, CPU count); `set_num_threads` changes it.
While our threads run, BLAS is held to one thread so the two levels do not oversubscribe.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

#: Poses processed per chunk by `for_each_chunk` (keeps temporaries cache-sized).
CHUNK = 16384
_POOL_PREFIX = "posebench-pool"
_THREADS = int(os.environ.get("POSEBENCH_NUM_THREADS", "0")) or min(2, os.cpu_count() or 1)
_POOL: ThreadPoolExecutor | None = None


def num_threads() -> int:
    """Threads posebench uses for batched work (see the module docstring)."""
    return _THREADS


def set_num_threads(n: int) -> None:
    """Set the thread count (at least 1). Results do not depend on it."""
    global _THREADS, _POOL
    _THREADS = max(1, int(n))
    if _POOL is not None:
        _POOL.shutdown(wait=False)
        _POOL = None


def chunks(n: int, size: int | None = None) -> Iterator[slice]:
    """Slices covering ``range(n)`` in blocks of `size` (default `CHUNK`)."""
    size = size or CHUNK
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def split_batch(n: int, parts: int | None = None) -> list[np.ndarray]:
    """Index arrays splitting ``range(n)`` into `parts` (default: the thread count) near-equal
    contiguous parts."""
    return np.array_split(np.arange(n), parts or _THREADS)


def _in_pool() -> bool:
    return threading.current_thread().name.startswith(_POOL_PREFIX)  # never wait on ourselves


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix=_POOL_PREFIX)
    return _POOL


def parallel_map(fn: Callable[[T], R], items: Iterable[T], threads: int | None = None) -> list[R]:
    """``[fn(x) for x in items]``, on up to `threads` (default `num_threads()`) threads, in order.
    Runs serially when one thread is asked for, when there is one item, or when called from
    inside the pool."""
    items = list(items)
    threads = threads or _THREADS
    if threads <= 1 or len(items) <= 1 or _in_pool():
        return [fn(x) for x in items]
    pool = _pool() if threads == _THREADS else None
    if pool is None:  # an explicit, different thread count: a pool of its own for this call
        with ThreadPoolExecutor(threads, thread_name_prefix=_POOL_PREFIX) as ex:
            return list(ex.map(fn, items))
    with single_threaded_blas():  # our threads already fill the cores
        return [f.result() for f in [pool.submit(fn, x) for x in items]]


def for_each_chunk(n: int, work: Callable[[slice], None], size: int | None = None) -> None:
    """Run ``work(slice)`` for every chunk (`size` rows, default `CHUNK`) of ``range(n)`` on the
    pool. Each call must write only its own slice of preallocated outputs. NaN / inf inputs give
    NaN results silently (the callers guard their divisions)."""

    def run(sl: slice) -> None:
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            work(sl)

    parallel_map(run, chunks(n, size))


def process_map(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None
                ) -> list[R]:
    """``[fn(x) for x in items]`` in up to `workers` (default `num_threads()`) joblib/loky
    worker processes, in order; `items` is consumed lazily (a few in flight), so a generator
    of large arrays never has them all in memory. `fn`, the items and the results must
    pickle (internal objects only: nothing read from a user's file goes through pickle).
    Serial in this process when one worker is asked for or when called from inside the
    thread pool. Each worker runs one BLAS/OpenMP thread."""
    workers = workers or _THREADS
    if workers <= 1 or _in_pool():
        return [fn(x) for x in items]
    from joblib import Parallel, delayed, parallel_config  # lazy: ~0.5 s, process work only

    with parallel_config(backend="loky", inner_max_num_threads=1):
        return Parallel(n_jobs=workers, max_nbytes=None, pre_dispatch="2*n_jobs")(
            delayed(fn)(x) for x in items)


@functools.lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController  # lazy: optional (scikit-learn's)
    except ImportError:  # pragma: no cover
        return None
    return ThreadpoolController()


def single_threaded_blas():
    """Context manager holding BLAS to one thread (no-op without threadpoolctl)."""
    ctl = _blas_controller()
    return contextlib.nullcontext() if ctl is None else ctl.limit(limits=1, user_api="blas")
