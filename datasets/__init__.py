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

__all__ = ["REGISTRY", "Dataset", "DatasetInfo", "DatasetSpec", "check_arrays", "data_root", "get_spec",
           "load_dataset", "register"]
