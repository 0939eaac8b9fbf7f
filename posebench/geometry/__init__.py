"""Multi-view geometry: cameras, two-view epipolar geometry, triangulation, pseudo-labels.

Pure numpy, batched (leading batch dims), no torch. Modules, one job each:

- `camera`: world <-> camera (``X_c = R X_w + t``), distortion (Human3.6M / OpenCV models),
  project, undistort (iterative), back-project, K helpers;
- `rotations`: skew, Rodrigues, rotation angles, relative extrinsics;
- `two_view`: normalised 8-point F, batched RANSAC on the Sampson distance, E with corrected
  singular values, the four (R, t), cheirality, Sampson LM refinement, degeneracy flags;
- `fast_two_view`: the per-frame throughput path (``estimator="fast"``): one 8-point solve,
  closed-form essential projection and rotations, cheirality, midpoint triangulation;
- `triangulation`: weighted DLT over N views, Hartley-Sturm optimal two-view correction
  (degree-6 polynomial), vector median;
- `pseudo_labels`: the trainer-facing API ``pseudo_labels(poses_2d, ViewCameras(...),
  mode="known" | "per-frame" | "pooled")`` with its scale convention and failure reasons;
- `dataset_labels`: the same over a `PoseDataset` split (grouping, joblib / dask / ray);
- `report`: quality report (pairs, failures, rotation error, P-MPJPE, N-MPJPE);
- `synthetic`: the Human3.6M rig and plausible 17-joint bodies for tests and benchmarks.
"""
