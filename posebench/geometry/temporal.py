"""NaN-aware temporal smoothing of 2D joint tracks: the ``temporal="savgol"`` option of
`rig_calibration.calibrate_rig` (observations filtered before the bundle adjustment).

A sample is replaced by the quadratic Savitzky-Golay value of its centred window (a local
least-squares quadratic in time, evaluated at the window's centre) only when every sample of
the window is finite and the window's frames are consecutive; every other sample is returned
unchanged. NaN therefore never spreads (a NaN stays NaN, a finite sample never becomes NaN),
gaps and sequence ends keep their raw values, and frames given out of order are filtered in
time order. Quadratic and cubic Savitzky-Golay share their centre weights (odd symmetry), so
the order is not a parameter.
"""

from __future__ import annotations

import numpy as np

from posebench.errors import InputError

SAVGOL_WINDOW = 5  # frames; chosen from the measurements in benchmarks/geometry_rig.py


def savgol_weights(window: int) -> np.ndarray:
    """Centre weights (window,) of the quadratic Savitzky-Golay filter (they sum to 1 and
    reproduce any quadratic exactly; window 5: (-3, 12, 17, 12, -3) / 35)."""
    k = np.arange(window) - window // 2
    return np.linalg.pinv(np.vander(k, 3, increasing=True).astype(np.float64))[0]


def checked_window(window) -> int:
    """`window` as an odd int >= 5 (a quadratic through 3 samples is the identity)."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) \
            or window < 5 or window % 2 == 0:
        raise InputError(f"temporal window is {window!r}; expected an odd number of frames "
                         ">= 5; pass e.g. 5.")
    return int(window)


def savgol_tracks(x: np.ndarray, window: int = SAVGOL_WINDOW,
                  frames: np.ndarray | None = None) -> np.ndarray:
    """Smoothed copy of the tracks x (T, ...) (time first; e.g. (T, V, J, 2) px).

    frames (T,) integer frame numbers (None: the rows are consecutive frames in order); a
    window is used only when its frames are consecutive integers (after sorting by frame) and
    all of its samples are finite, element by element. Pure and batched: no loop over tracks.
    """
    window = checked_window(window)
    x = np.asarray(x, dtype=np.float64)
    T = len(x)
    out = x.copy()
    if T < window:
        return out
    if frames is None:
        order = np.arange(T)
        step_ok = np.ones(T - 1, bool)
    else:
        frames = np.asarray(frames)
        if frames.shape != (T,) or not np.issubdtype(frames.dtype, np.integer):
            raise InputError(f"frames has shape {frames.shape} and dtype {frames.dtype}; "
                             f"expected ({T},) integer frame numbers, one per row of x.")
        order = np.argsort(frames, kind="stable")
        step_ok = np.diff(frames[order]) == 1
    xs = x[order]
    h = window // 2
    w = savgol_weights(window)
    win = np.lib.stride_tricks.sliding_window_view(xs, window, axis=0)  # (T-w+1, ..., w)
    fin = np.isfinite(win).all(-1)
    consecutive = np.lib.stride_tricks.sliding_window_view(step_ok, window - 1).all(-1)
    ok = fin & consecutive.reshape((-1,) + (1,) * (x.ndim - 1))
    with np.errstate(invalid="ignore"):
        val = np.where(ok, np.where(np.isfinite(win), win, 0.0) @ w, xs[h:T - h])
    out[order[h:T - h]] = val
    return out
