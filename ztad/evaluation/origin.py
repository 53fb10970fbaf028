"""The origin notebook's detection method, reproduced as the baseline ztad must beat.

The origin notebook turned each event into eight numbers and fed them to three detectors:

1. integer label-encoding of ``user_id``, ``device_id``, ``ip_address``, ``location`` and the
   resource, with the codes in sorted order of the values as scikit-learn's ``LabelEncoder``
   gives them. The codes are learned on the training events; a value never seen in training
   gets one extra code (``number of known values``), since ``LabelEncoder`` itself would
   refuse it;
2. the features ``user, device, ip, location, login_success, hour, resource, bytes`` (hour of
   the UTC timestamp, bytes transferred as they are);
3. ``StandardScaler`` fitted on the training events;
4. Isolation Forest with ``contamination`` = the training anomaly rate clipped to
   [0.001, 0.49];
5. One-Class SVM, RBF kernel, ``gamma=0.001``, ``nu`` = the same rate clipped to [0.01, 0.5].
   Its training cost grows with the square of the rows, so it trains on a seeded uniform
   sample of at most ``ocsvm_max_rows`` training events;
6. an 8-4-8 Keras autoencoder (Dense 8 relu, Dense 4 relu, Dense 8 relu, linear output; mse;
   adam); an event is anomalous when its reconstruction error is above the 95th percentile
   of the errors of the events being scored, as the notebook computed it.

As in the notebook, the detectors train on *all* training events, attacks included; the
labels only set the contamination rate. Every detector gives a continuous score (higher = more
anomalous: negated Isolation Forest ``score_samples``, negated One-Class SVM
``decision_function``, reconstruction mean squared error) and its own hard decisions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ztad.evaluation import EvaluationError
from ztad.schema import is_anomaly_label

#: The eight columns the origin method feeds to its detectors, in its order.
ORIGIN_FEATURES: tuple[str, ...] = (
    "user",
    "device",
    "ip",
    "location",
    "login_success",
    "hour",
    "resource",
    "bytes",
)
#: Origin feature -> the canonical event column(s) it is encoded from (first present wins).
ENCODED_COLUMNS: dict[str, tuple[str, ...]] = {
    "user": ("user_id",),
    "device": ("device_id",),
    "ip": ("ip_address",),
    "location": ("location",),
    "resource": ("resource", "resource_accessed"),
}
ORIGIN_DETECTORS: tuple[str, ...] = ("isolation_forest", "ocsvm", "autoencoder")

CONTAMINATION_RANGE = (0.001, 0.49)
NU_RANGE = (0.01, 0.5)

#: Settings tried by the tuning sweep, as the origin notebook tuned them.
CONTAMINATION_GRID: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.49)
NU_GRID: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)
PERCENTILE_GRID: tuple[float, ...] = (80.0, 85.0, 90.0, 95.0, 97.5, 99.0, 99.5)


@dataclass(frozen=True)
class OriginSettings:
    """Parameters of the origin method.

    Parameters
    ----------
    contamination, nu
        ``None`` derives them from the training anomaly rate, as the notebook did.
    percentile
        Autoencoder threshold, a percentile of reconstruction errors (95 in the notebook).
    ocsvm_max_rows
        Cap on One-Class SVM training rows (a seeded uniform sample beyond it).
    epochs, batch_size
        Autoencoder training length; kept small because the notebook's network is tiny.
    seed
        Seed for sampling and every model.
    detectors
        Which of :data:`ORIGIN_DETECTORS` to run.
    """

    contamination: float | None = None
    nu: float | None = None
    percentile: float = 95.0
    ocsvm_max_rows: int = 10_000
    epochs: int = 10
    batch_size: int = 256
    seed: int = 42
    detectors: tuple[str, ...] = ORIGIN_DETECTORS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.detectors) - set(ORIGIN_DETECTORS))
        if unknown:
            raise ValueError(f"unknown origin detectors {unknown}; choose from {ORIGIN_DETECTORS}")


# --------------------------------------------------------------------------- features


def _identifier(events: pd.DataFrame, feature: str) -> pd.Series:
    """The raw identifier behind an encoded feature; missing values are the empty string."""
    for column in ENCODED_COLUMNS[feature]:
        if column in events.columns:
            return events[column].astype("string").fillna("").reset_index(drop=True)
    return pd.Series("", index=pd.RangeIndex(len(events)), dtype="string")


@dataclass
class LabelCodes:
    """Integer codes of identifiers, learned on training events (``LabelEncoder`` order).

    Attributes
    ----------
    categories_
        Feature -> the sorted known values; a value's code is its position.
    """

    categories_: dict[str, pd.Index] = field(default_factory=dict)

    @classmethod
    def fit(cls, events: pd.DataFrame) -> "LabelCodes":
        """Learn the sorted distinct values of each identifier."""
        return cls(
            {
                feature: pd.Index(np.sort(_identifier(events, feature).unique().to_numpy(str)))
                for feature in ENCODED_COLUMNS
            }
        )

    def transform(self, events: pd.DataFrame) -> pd.DataFrame:
        """Codes per feature; an unseen value gets the extra code ``len(known values)``."""
        out = {}
        for feature, known in self.categories_.items():
            codes = known.get_indexer(_identifier(events, feature).to_numpy(str))
            out[feature] = np.where(codes < 0, len(known), codes).astype(np.int64)
        return pd.DataFrame(out)

    def unseen(self, events: pd.DataFrame) -> dict[str, int]:
        """How many events carry a value unseen in training, per feature."""
        return {
            feature: int((known.get_indexer(_identifier(events, feature).to_numpy(str)) < 0).sum())
            for feature, known in self.categories_.items()
        }


def origin_matrix(events: pd.DataFrame, codes: LabelCodes) -> pd.DataFrame:
    """The eight origin features, unscaled, as float64 in :data:`ORIGIN_FEATURES` order."""
    encoded = codes.transform(events)
    stamps = pd.to_datetime(events["timestamp"], utc=True).reset_index(drop=True)
    encoded["login_success"] = events["login_success"].astype("int64").to_numpy()
    encoded["hour"] = stamps.dt.hour.to_numpy()
    encoded["bytes"] = events["bytes_transferred"].astype("float64").fillna(0.0).to_numpy()
    return encoded[list(ORIGIN_FEATURES)].astype(np.float64)


# --------------------------------------------------------------------------- models


def training_anomaly_rate(events: pd.DataFrame) -> float:
    """Share of labelled training events whose label is not ``normal``."""
    if "event_label" not in events.columns:
        raise EvaluationError("the training events have no event_label column")
    flags = is_anomaly_label(events["event_label"]).dropna()
    if flags.empty:
        raise EvaluationError("no labelled training events: the anomaly rate is unknown")
    return float(flags.astype(bool).mean())


def seeded_sample(n_rows: int, cap: int, seed: int) -> np.ndarray:
    """Sorted positions of a uniform sample of at most ``cap`` of ``n_rows`` rows."""
    if n_rows <= cap:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=cap, replace=False))


def _build_autoencoder(n_features: int, seed: int):
    """The notebook's 8-4-8 autoencoder, compiled with mse and adam."""
    import os

    # TensorFlow's start-up chatter would bury the evaluation's own progress lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(n_features,)),
            tf.keras.layers.Dense(8, activation="relu"),
            tf.keras.layers.Dense(4, activation="relu"),
            tf.keras.layers.Dense(8, activation="relu"),
            tf.keras.layers.Dense(n_features),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def fit_autoencoder(X: np.ndarray, *, epochs: int, batch_size: int, seed: int):
    """Train the autoencoder to reproduce ``X`` (scaled features)."""
    model = _build_autoencoder(X.shape[1], seed)
    model.fit(X, X, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    return model


def reconstruction_error(model, X: np.ndarray) -> np.ndarray:
    """Mean squared reconstruction error per row."""
    rebuilt = np.asarray(model.predict(X, batch_size=8192, verbose=0), dtype=np.float64)
    return np.mean((X - rebuilt) ** 2, axis=1)


@dataclass
class OriginModel:
    """The fitted origin method: codes, scaler and detectors, with the parameters used."""

    settings: OriginSettings
    codes: LabelCodes
    scaler: object
    contamination: float
    nu: float
    training_anomaly_rate: float
    train_rows: int
    isolation_forest: object | None = None
    isolation_forest_train_raw: np.ndarray | None = None
    ocsvm: object | None = None
    ocsvm_train_X: np.ndarray | None = None
    autoencoder: object | None = None

    def transform(self, events: pd.DataFrame) -> pd.DataFrame:
        """Scaled origin features of ``events`` (columns :data:`ORIGIN_FEATURES`)."""
        raw = origin_matrix(events, self.codes)
        return pd.DataFrame(self.scaler.transform(raw.to_numpy()), columns=raw.columns)

    def params(self) -> dict:
        """The parameters actually used, for the report."""
        return {
            "training_anomaly_rate": self.training_anomaly_rate,
            "contamination": self.contamination,
            "nu": self.nu,
            "gamma": 0.001,
            "percentile": self.settings.percentile,
            "train_rows": self.train_rows,
            "ocsvm_train_rows": None if self.ocsvm_train_X is None else len(self.ocsvm_train_X),
            "features": list(ORIGIN_FEATURES),
            **{k: v for k, v in asdict(self.settings).items() if k not in {"contamination", "nu"}},
        }


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return float(min(max(value, bounds[0]), bounds[1]))


def fit_ocsvm(X: np.ndarray, nu: float):
    """One-Class SVM with the notebook's RBF kernel and gamma."""
    from sklearn.svm import OneClassSVM

    return OneClassSVM(kernel="rbf", gamma=0.001, nu=nu).fit(X)


def fit_origin(train: pd.DataFrame, settings: OriginSettings = OriginSettings()) -> OriginModel:
    """Fit the origin method on every training event, attacks included, as the notebook did.

    Raises
    ------
    EvaluationError
        When there are no training events or no labels to derive the contamination from.
    """
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import StandardScaler

    if train.empty:
        raise EvaluationError("no training events for the origin method")
    rate = training_anomaly_rate(train)
    codes = LabelCodes.fit(train)
    raw = origin_matrix(train, codes)
    scaler = StandardScaler().fit(raw.to_numpy())
    X = scaler.transform(raw.to_numpy())
    model = OriginModel(
        settings=settings,
        codes=codes,
        scaler=scaler,
        contamination=settings.contamination or _clip(rate, CONTAMINATION_RANGE),
        nu=settings.nu or _clip(rate, NU_RANGE),
        training_anomaly_rate=rate,
        train_rows=len(train),
    )
    if "isolation_forest" in settings.detectors:
        forest = IsolationForest(contamination=model.contamination, random_state=settings.seed)
        model.isolation_forest = forest.fit(X)
        # Kept so that the sweep can move the offset exactly as a refit with another
        # contamination would (same trees, offset_ = that percentile of these).
        model.isolation_forest_train_raw = forest.score_samples(X)
    if "ocsvm" in settings.detectors:
        model.ocsvm_train_X = X[seeded_sample(len(X), settings.ocsvm_max_rows, settings.seed)]
        model.ocsvm = fit_ocsvm(model.ocsvm_train_X, model.nu)
    if "autoencoder" in settings.detectors:
        model.autoencoder = fit_autoencoder(
            X, epochs=settings.epochs, batch_size=settings.batch_size, seed=settings.seed
        )
    return model


# --------------------------------------------------------------------------- scoring


@dataclass
class OriginResult:
    """Scores and decisions of the origin detectors for some events.

    Attributes
    ----------
    event_id
        The scored events' ids, in row order.
    scores
        One float column per detector, higher = more anomalous.
    flags
        One bool column per detector: the detector's own decisions.
    params
        The parameters used (contamination, nu, percentile, rows, thresholds ...).
    """

    event_id: pd.Series
    scores: pd.DataFrame
    flags: pd.DataFrame
    params: dict

    def __post_init__(self) -> None:
        if not (len(self.event_id) == len(self.scores) == len(self.flags)):
            raise EvaluationError("origin event ids, scores and flags must have equal lengths")

    @property
    def detectors(self) -> list[str]:
        return list(self.scores.columns)

    def subset(self, rows: np.ndarray) -> "OriginResult":
        """The result restricted to the given row positions, in that order."""
        return OriginResult(
            event_id=self.event_id.iloc[rows].reset_index(drop=True),
            scores=self.scores.iloc[rows].reset_index(drop=True),
            flags=self.flags.iloc[rows].reset_index(drop=True),
            params=self.params,
        )


def score_origin(model: OriginModel, events: pd.DataFrame) -> OriginResult:
    """Score ``events`` with every fitted origin detector."""
    X = model.transform(events).to_numpy()
    scores: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    params = model.params()
    if model.isolation_forest is not None:
        raw = model.isolation_forest.score_samples(X)
        scores["isolation_forest"] = -raw
        # Same rule as IsolationForest.predict: decision_function = score_samples - offset_ < 0.
        flags["isolation_forest"] = raw < model.isolation_forest.offset_
    if model.ocsvm is not None:
        decision = model.ocsvm.decision_function(X)
        scores["ocsvm"] = -decision
        # libsvm's one-class predict calls a decision value <= 0 an outlier.
        flags["ocsvm"] = decision <= 0
    if model.autoencoder is not None:
        errors = reconstruction_error(model.autoencoder, X)
        threshold = float(np.percentile(errors, model.settings.percentile))
        scores["autoencoder"] = errors
        flags["autoencoder"] = errors > threshold
        params["autoencoder_threshold"] = threshold
    event_id = (
        events["event_id"].astype("string").reset_index(drop=True)
        if "event_id" in events.columns
        else pd.Series(np.arange(len(events)).astype(str), dtype="string")
    )
    params["unseen_values"] = model.codes.unseen(events)
    return OriginResult(
        event_id=event_id,
        scores=pd.DataFrame(scores),
        flags=pd.DataFrame(flags),
        params=params,
    )


def run_origin(
    train: pd.DataFrame, test: pd.DataFrame, settings: OriginSettings = OriginSettings()
) -> tuple[OriginModel, OriginResult]:
    """Fit on ``train`` and score ``test``."""
    model = fit_origin(train, settings)
    return model, score_origin(model, test)


# --------------------------------------------------------------------------- tuning sweep


def _sweep_row(detector, parameter, value, is_anomaly, flagged, pr_auc, rows) -> dict:
    from ztad.evaluation.metrics import decision_metrics

    decisions = decision_metrics(is_anomaly, flagged)
    return {
        "detector": detector,
        "parameter": parameter,
        "value": float(value),
        "precision": decisions["precision"],
        "recall": decisions["recall"],
        "f1": decisions["f1"],
        "fpr": decisions["fpr"],
        "alerts": decisions["alerts"],
        "pr_auc": pr_auc,
        "rows": rows,
    }


def _with(grid: tuple[float, ...], value: float) -> list[float]:
    """The grid with ``value`` added, sorted, without repeats."""
    return sorted(set(grid) | {float(value)})


def tuning_sweep(
    model: OriginModel,
    events: pd.DataFrame,
    *,
    contamination: tuple[float, ...] = CONTAMINATION_GRID,
    nu: tuple[float, ...] = NU_GRID,
    percentile: tuple[float, ...] = PERCENTILE_GRID,
    max_rows: int = 50_000,
    ocsvm_max_rows: int = 5_000,
) -> pd.DataFrame:
    """F1 and PR-AUC of each origin detector over its tuning parameter, as the notebook tuned.

    The model's own setting is added to each grid, so one row matches the main result.

    - Isolation Forest: ``contamination`` only moves the decision offset to that percentile
      of the training scores (the trees do not change), so PR-AUC is the same in every row.
    - One-Class SVM: refitted for each ``nu`` on at most ``ocsvm_max_rows`` training rows.
    - Autoencoder: the threshold percentile of the scored events' errors.

    Scored on a seeded sample of at most ``max_rows`` labelled events (column ``rows``).

    Returns
    -------
    pandas.DataFrame
        Columns ``detector, parameter, value, precision, recall, f1, fpr, alerts, pr_auc,
        rows``.
    """
    from ztad.evaluation.metrics import pr_auc, require_both_classes

    sample = events.iloc[seeded_sample(len(events), max_rows, model.settings.seed)]
    labels = is_anomaly_label(sample["event_label"])
    sample = sample.loc[labels.notna().to_numpy()]
    is_anomaly = labels.dropna().to_numpy(dtype=bool)
    require_both_classes(is_anomaly)
    X = model.transform(sample).to_numpy()
    rows: list[dict] = []
    n = len(sample)
    if model.isolation_forest is not None:
        raw = model.isolation_forest.score_samples(X)
        auc = pr_auc(is_anomaly, -raw)
        for c in _with(contamination, model.contamination):
            offset = np.percentile(model.isolation_forest_train_raw, 100.0 * c)
            rows.append(_sweep_row("isolation_forest", "contamination", c, is_anomaly,
                                   raw < offset, auc, n))
    if model.ocsvm is not None:
        train_X = model.ocsvm_train_X[
            seeded_sample(len(model.ocsvm_train_X), ocsvm_max_rows, model.settings.seed)
        ]
        for value in _with(nu, model.nu):
            decision = fit_ocsvm(train_X, value).decision_function(X)
            rows.append(_sweep_row("ocsvm", "nu", value, is_anomaly, decision <= 0,
                                   pr_auc(is_anomaly, -decision), n))
    if model.autoencoder is not None:
        errors = reconstruction_error(model.autoencoder, X)
        auc = pr_auc(is_anomaly, errors)
        for p in _with(percentile, model.settings.percentile):
            rows.append(_sweep_row("autoencoder", "percentile", p, is_anomaly,
                                   errors > np.percentile(errors, p), auc, n))
    return pd.DataFrame(rows, columns=["detector", "parameter", "value", "precision", "recall",
                                       "f1", "fpr", "alerts", "pr_auc", "rows"])
