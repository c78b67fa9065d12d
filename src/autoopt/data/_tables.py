"""CSV and Parquet tables: read, pick the target, and encode features with train-only statistics.

Numeric columns are standardized with the train split's mean and standard deviation (missing
values become the train mean); string/categorical columns are one-hot encoded with the categories
seen in train (unseen or missing values encode as all zeros).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from autoopt.data._config import DataConfig
from autoopt.data._registry import RawData, register_dataset
from autoopt.exceptions import DataError

__all__ = ["TableEncoder", "read_table"]

PARQUET_HINT = "pip install 'autoopt[parquet]'"


def _require_parquet_engine() -> None:
    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise DataError(
            f"data.name: 'parquet' needs pyarrow, which is not installed; {PARQUET_HINT} "
            "(or convert the table to CSV)"
        ) from None


def read_table(path: Path, kind: str) -> pd.DataFrame:
    """Read a ``csv`` or ``parquet`` file into a DataFrame.

    Args:
        path: the file.
        kind: ``"csv"`` or ``"parquet"``.

    Raises:
        DataError: missing file, missing Parquet engine, or an unreadable/empty table.
    """
    if not path.is_file():
        raise DataError(f"data.path: expected a {kind} file, got {str(path)!r} (not found)")
    if kind == "parquet":
        _require_parquet_engine()
    try:
        frame = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"data.path: cannot read {str(path)!r} as {kind}: {exc}") from exc
    if frame.empty:
        raise DataError(f"data.path: {str(path)!r} holds no rows")
    return frame


@dataclass
class TableEncoder:
    """Feature encoding learned on the train rows only.

    Attributes:
        numeric: numeric column -> (mean, std) of train (std 1 when constant or ``normalize`` off).
        categorical: categorical column -> categories seen in train, in one-hot order.
        normalize: standardize numeric columns.
    """

    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    normalize: bool = True

    @classmethod
    def fit(cls, train: pd.DataFrame, *, normalize: bool = True) -> TableEncoder:
        """Learn the encoding from the train rows.

        Args:
            train: the train split's feature columns.
            normalize: standardize numeric columns (the train mean is still used for missing values).
        """
        enc = cls(normalize=normalize)
        for col in train.columns:
            values = train[col]
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                v = values.astype("float64")
                mean = float(v.mean()) if v.notna().any() else 0.0
                std = float(v.std(ddof=0)) if v.notna().any() else 0.0
                enc.numeric[str(col)] = (mean, std if normalize and std > 0 else 1.0)
            else:
                enc.categorical[str(col)] = sorted(values.dropna().astype(str).unique().tolist())
        return enc

    @property
    def feature_names(self) -> list[str]:
        names = list(self.numeric)
        for col, cats in self.categorical.items():
            names += [f"{col}={c}" for c in cats]
        return names

    @property
    def mean(self) -> list[float]:
        return [m if self.normalize else 0.0 for m, _ in self.numeric.values()] + [0.0] * self._n_onehot

    @property
    def std(self) -> list[float]:
        return [s for _, s in self.numeric.values()] + [1.0] * self._n_onehot

    @property
    def _n_onehot(self) -> int:
        return sum(len(c) for c in self.categorical.values())

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode rows into a ``float32`` matrix ``(rows, len(feature_names))``.

        Args:
            frame: rows with the same feature columns as the train rows.
        """
        parts = []
        for col, (mean, std) in self.numeric.items():
            v = frame[col].astype("float64").fillna(mean).to_numpy()
            parts.append(((v - mean) / std if self.normalize else v)[:, None])
        for col, cats in self.categorical.items():
            codes = pd.Index(cats, dtype="string").get_indexer(frame[col].astype("string"))  # unseen/NaN: -1
            onehot = np.zeros((len(frame), len(cats)))
            hit = codes >= 0
            onehot[np.flatnonzero(hit), codes[hit]] = 1.0
            parts.append(onehot)
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.concatenate(parts, axis=1).astype(np.float32)


def _split_columns(frame: pd.DataFrame, config: DataConfig) -> tuple[pd.DataFrame, np.ndarray]:
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if config.target not in columns:
        raise DataError(
            f"data.target: column {config.target!r} not found; the table has columns: {', '.join(columns)}"
        )
    features = config.features if config.features is not None else [c for c in columns if c != config.target]
    unknown = [c for c in features if c not in columns]
    if unknown:
        raise DataError(
            f"data.features: columns {', '.join(map(repr, unknown))} not found; "
            f"the table has columns: {', '.join(columns)}"
        )
    if config.target in features:
        raise DataError(f"data.features: the target column {config.target!r} cannot also be a feature")
    if not features:
        raise DataError(
            f"data.features: expected at least one feature column besides {config.target!r}, got none"
        )
    return frame[features].reset_index(drop=True), frame[config.target].to_numpy()


def _load_table(config: DataConfig, kind: str) -> RawData:
    path = config.resolved_path()
    x, y = _split_columns(read_table(path, kind), config)
    return RawData(x, y, extra={"file": path.name, "target": config.target, "columns": list(x.columns)})


@register_dataset("csv", needs=("path", "target"))
def _load_csv(config: DataConfig) -> RawData:
    return _load_table(config, "csv")


@register_dataset("parquet", needs=("path", "target"))
def _load_parquet(config: DataConfig) -> RawData:
    return _load_table(config, "parquet")
