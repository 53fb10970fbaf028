"""Small seeded feature matrices shaped like behavioural features, for detector tests.

Normal rows mix a symmetric feature, a shifted one, a count, a heavy-tailed ratio, a rare 0/1
flag and a rarity in [0, 1]; anomalies are normal rows with two features pushed far out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ("gauss", "shifted", "count", "ratio", "flag", "rarity")
#: Far-out values per feature, used to build anomalies.
EXTREMES = {"gauss": 9.0, "shifted": 40.0, "count": 60.0, "ratio": 300.0, "rarity": 1.0}
#: Small, fast settings per detector for tests.
FAST_PARAMS = {
    "isolation_forest": {"n_estimators": 100},
    "ocsvm": {},
    "autoencoder": {"epochs": 8, "batch_size": 64, "learning_rate": 0.01},
    "ecod": {},
}


def normal_features(n: int, seed: int) -> pd.DataFrame:
    """``n`` normal rows."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "gauss": rng.normal(0.0, 1.0, n),
            "shifted": rng.normal(5.0, 2.0, n),
            "count": rng.poisson(2.0, n).astype(np.float64),
            "ratio": rng.lognormal(0.0, 0.5, n),
            "flag": (rng.random(n) < 0.05).astype(np.float64),
            "rarity": rng.beta(1.0, 8.0, n),
        }
    )


def far_anomalies(n: int, seed: int) -> pd.DataFrame:
    """``n`` normal rows, each with two of the continuous features set far out."""
    frame = normal_features(n, seed)
    rng = np.random.default_rng(seed + 1)
    names = list(EXTREMES)
    for row in range(n):
        for name in rng.choice(names, size=2, replace=False):
            frame.loc[row, name] = EXTREMES[name]
    return frame
