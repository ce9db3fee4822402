"""Dataset registry.  Importing this package registers every built-in dataset."""

from liegan.datasets.base import (
    REGISTRY,
    Dataset,
    DatasetInfo,
    DatasetSpec,
    check_arrays,
    data_root,
    get_spec,
    load_dataset,
    register,
)

__all__ = [
    "REGISTRY",
    "Dataset",
    "DatasetInfo",
    "DatasetSpec",
    "check_arrays",
    "data_root",
    "get_spec",
    "load_dataset",
    "register",
]

from liegan.datasets import (  # noqa: E402,F401  (registers)
    custom,
    images,
    rotation7,  # noqa: E402,F401  (registers itself)
    rotmnist,
    threebody,
    topquark,  # noqa: E402,F401  (registers)
    twobody,
)
