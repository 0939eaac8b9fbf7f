"""Camera helpers: undistortion inverts distortion, back-projection inverts projection."""

import numpy as np
import pytest

from posebench.geometry.camera import (
    back_project,
    distort,
    intrinsic_matrix,
    project,
    undistort_normalised,
    undistort_points,
)

F = np.array([1145.0, 1143.8])
C = np.array([512.5, 515.5])
K3 = np.array([-0.207, 0.2478, -0.0031])
P2 = np.array([-0.00098, -0.00142])


@pytest.mark.parametrize("model", ["h36m", "opencv"])
def test_undistort_inverts_distort(model):
    rng = np.random.default_rng(0)
    xy = rng.uniform(-0.45, 0.45, size=(50, 17, 2))  # the image area of a H36M camera
    xd = distort(xy, K3, P2, model)
    assert np.abs(xd - xy).max() > 1e-3  # distortion is not negligible here
    back = undistort_normalised(xd, K3, P2, model)
    np.testing.assert_allclose(back, xy, atol=1e-13)


@pytest.mark.parametrize("model", ["h36m", "opencv", "none"])
def test_back_project_inverts_project(model):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 17, 3)) * 400 + [0, 0, 5000]
    uv = project(X, F, C, K3, P2, model)
    Xb = back_project(uv, X[..., 2], F, C, K3, P2, model)
    np.testing.assert_allclose(Xb, X, atol=1e-8)
    # undistorted pixels are the pinhole projection
    pin = undistort_points(uv, F, C, K3, P2, model)
    np.testing.assert_allclose(pin, X[..., :2] / X[..., 2:] * F + C, atol=1e-9)


def test_undistort_keeps_nan_and_intrinsic_matrix():
    uv = np.array([[[np.nan, np.nan], [500.0, 500.0]]])
    out = undistort_points(uv, F, C, K3, P2, "h36m")
    assert np.isnan(out[0, 0]).all() and np.isfinite(out[0, 1]).all()
    K = intrinsic_matrix(F, C)
    np.testing.assert_array_equal(K, [[F[0], 0, C[0]], [0, F[1], C[1]], [0, 0, 1]])
