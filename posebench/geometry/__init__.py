"""Multi-view geometry: cameras, two-view epipolar geometry, triangulation, pseudo-labels.

Pure numpy, batched (leading batch dims), no torch.
"""
