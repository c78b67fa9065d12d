"""autoopt's data layer: one entry point from the spec's ``data:`` section to train/val/test splits.

Example:
    >>> from autoopt.data import load_data
    >>> bundle = load_data("digits")
    >>> bundle.meta.num_classes, bundle.train[0][0].shape
    (10, torch.Size([1, 8, 8]))

Sources (``list_datasets()``): ``digits`` (built in), ``mnist``, ``fashion-mnist`` (IDX files),
``cifar10``, ``cifar100`` (binary or python version), ``image-folder``, ``csv``, ``parquet``
(needs ``pip install 'autoopt[parquet]'``), ``npz``, ``text-csv``, ``text-jsonl`` (token ids).
autoopt never downloads data.
"""

from __future__ import annotations

# Importing the source modules registers them.
from autoopt.data import _arrays, _cifar, _idx, _image_folder, _tables, _text  # noqa: F401
from autoopt.data._augment import Augment
from autoopt.data._bundle import DataBundle, DatasetMeta
from autoopt.data._config import AugmentConfig, DataConfig, SplitConfig
from autoopt.data._loader import as_config, load_data
from autoopt.data._registry import RawData, datasets, list_datasets, register_dataset
from autoopt.data._splits import split_indices
from autoopt.data._tensor_data import TensorData
from autoopt.data._tokenizer import TokenizerConfig, encode_texts, learn_tokenizer, load_hf_tokenizer

__all__ = [
    "Augment",
    "AugmentConfig",
    "DataBundle",
    "DataConfig",
    "DatasetMeta",
    "RawData",
    "SplitConfig",
    "TensorData",
    "TokenizerConfig",
    "encode_texts",
    "learn_tokenizer",
    "load_hf_tokenizer",
    "as_config",
    "datasets",
    "list_datasets",
    "load_data",
    "register_dataset",
    "split_indices",
]
