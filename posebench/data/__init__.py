"""Ground-truth containers, the on-disk canonical dataset format, the registry and protocols.

Imports without torch.
"""

from posebench.data.dataset import CameraTable, PoseDataset, SampleKeys
from posebench.data.registry import dataset_dir, list_datasets, load_dataset, posebench_home

__all__ = [
    "CameraTable",
    "PoseDataset",
    "SampleKeys",
    "dataset_dir",
    "list_datasets",
    "load_dataset",
    "posebench_home",
]
