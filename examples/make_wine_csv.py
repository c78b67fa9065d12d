"""Write scikit-learn's bundled wine table (178 rows, 13 numeric features, 3 classes) as a CSV, plus
a made-up categorical column, so that examples/tabular_csv.yaml has a real table to read.

    python examples/make_wine_csv.py            # writes examples/data/wine.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_wine


def main(out: str = "examples/data/wine.csv") -> Path:
    bunch = load_wine(as_frame=True)
    frame = bunch.frame.copy()
    frame["cultivar"] = [bunch.target_names[t] for t in bunch.target]
    frame = frame.drop(columns=["target"])
    # A categorical feature (string-valued), to show one-hot encoding: an alcohol band.
    frame["alcohol_band"] = pd.cut(
        frame["alcohol"], bins=[0, 12.5, 13.5, 20], labels=["low", "mid", "high"]
    ).astype(str)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
