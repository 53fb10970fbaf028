"""Keras autoencoder: normal behaviour is what a narrow network can reconstruct.

The network is trained on robustly standardised normal features (:mod:`ztad.detection.detectors.scaling`)
to reproduce its input through a bottleneck; the anomaly score is the mean squared
reconstruction error over the features, and the per-feature errors say which features did not
fit (:meth:`AutoencoderDetector.feature_errors`).

Training holds out a seeded validation share and stops early on its loss, restoring the best
weights. Under a fixed ``random_state`` it is deterministic as far as TensorFlow allows: the
Python, NumPy and TensorFlow seeds are set (``keras.utils.set_random_seed``), op determinism is
enabled (``tf.config.experimental.enable_op_determinism``, process-wide) and the thread pools
are limited to ``threads`` when TensorFlow has not started yet in the process.

TensorFlow is imported only inside this module's functions, so importing :mod:`ztad.detection.detectors`
stays light, and only to train: scoring is a NumPy pass over the weight arrays
(:func:`dense_forward`), so a loaded network is not built in Keras until something asks for
:attr:`AutoencoderDetector.model_` (importing TensorFlow costs a night seconds). The network is
saved as its weight arrays only (``.npz``, read without pickles): loading checks them against
the shapes the parameters describe, so a saved file cannot bring layers or code of its own (a
``.keras`` file carries a configuration that Keras deserialises).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.detection.detectors.base import ArtifactError, Detector, DetectorError
from ztad.detection.detectors.scaling import FeatureScaler

MODEL_FILE = "autoencoder_weights.npz"


def _keras(threads: int):
    """Import TensorFlow and Keras, configured for reproducible CPU runs."""
    from ztad.detection.detectors.tensorflow_start import quiet_start

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with quiet_start():
        import keras
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # TensorFlow already started in this process: its thread pools are fixed.
        tf.config.experimental.enable_op_determinism()
    return keras


@contextlib.contextmanager
def _quiet_numpy_bridge():
    """Silence Keras's NumPy 2 ``__array__(copy=...)`` deprecation notice; it is not ours."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="__array__ implementation doesn't accept a copy keyword",
            category=DeprecationWarning,
        )
        yield


def _build_network(keras, n_features: int, hidden_units: tuple[int, ...], code_size: int):
    """Mirror-image dense network: input -> hidden... -> code -> ...hidden -> linear output."""
    layers = keras.layers
    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", name=f"encode_{i}")(x)
    x = layers.Dense(code_size, activation="linear", name="code")(x)
    for i, units in enumerate(reversed(hidden_units)):
        x = layers.Dense(units, activation="relu", name=f"decode_{i}")(x)
    outputs = layers.Dense(n_features, activation="linear", name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="ztad_autoencoder")


#: Activations :func:`dense_forward` computes, as Keras names them.
_ACTIVATIONS = {"relu": True, "linear": False}


def dense_layers(model) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """A network of dense layers (:func:`_build_network`) as float64 ``(kernel, bias, relu)``."""
    layers = []
    for layer in model.layers:
        if not layer.weights:
            continue  # the input layer
        activation = getattr(layer.activation, "__name__", "")
        if activation not in _ACTIVATIONS:
            raise ArtifactError(f"layer {layer.name!r} has activation {activation!r}: not a ztad autoencoder")
        kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
        layers.append((kernel, bias, _ACTIVATIONS[activation]))
    return layers


def network_layout(n_features: int, hidden_units: tuple[int, ...], code_size: int) -> list[tuple[int, int, bool]]:
    """The dense layers :func:`_build_network` builds, as ``(inputs, units, relu)`` in order."""
    widths = [n_features, *hidden_units, code_size, *reversed(hidden_units), n_features]
    relu = [True] * len(hidden_units) + [False] + [True] * len(hidden_units) + [False]
    return [(widths[i], widths[i + 1], relu[i]) for i in range(len(relu))]


def layers_from_weights(
    weights: list[np.ndarray], layout: list[tuple[int, int, bool]]
) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """The network's weight arrays (Keras's order: kernel, bias, layer by layer) as float64
    ``(kernel, bias, relu)``, as :func:`dense_layers` reads them from a Keras model, without one.

    Raises
    ------
    ArtifactError
        When the arrays are not those of ``layout``.
    """
    expected = [shape for inputs, units, _ in layout for shape in ((inputs, units), (units,))]
    if [tuple(np.shape(w)) for w in weights] != expected:
        raise ArtifactError(
            f"{MODEL_FILE} holds weights of shapes {[np.shape(w) for w in weights]}, not those of the "
            f"network its parameters describe ({expected}); retrain the model"
        )
    return [
        (np.asarray(weights[2 * i], dtype=np.float64), np.asarray(weights[2 * i + 1], dtype=np.float64), relu)
        for i, (_, _, relu) in enumerate(layout)
    ]


#: Rows the forward pass computes at once: a block's widest layer (units x rows, float64) stays
#: within a core's cache, where a whole chunk's would stream through memory once per input unit.
FORWARD_BLOCK_ROWS = 4096


def dense_forward(layers: list[tuple[np.ndarray, np.ndarray, bool]], Z: np.ndarray) -> np.ndarray:
    """The network's output for the rows ``Z``, computed with NumPy in float64.

    Calling the Keras model costs milliseconds per call whatever the number of rows (its
    graph machinery), most of scoring one event; this is a few array operations per input
    unit. Each output is summed input by input in a fixed order, not by a matrix product
    whose blocking depends on the rows beside it, so a row gets the same bits alone, in a
    request or in any chunk of a day. It agrees with Keras's float32 output to float32
    rounding (``tests/ztad/detection/detectors/test_autoencoder.py``).

    Rows are taken :data:`FORWARD_BLOCK_ROWS` at a time and held transposed (units x rows),
    so that every operation runs along contiguous rows of a block that stays in cache; the
    operations on each value are the same, so are the bits.
    """
    rows = np.asarray(Z, dtype=np.float64)
    out = np.empty((len(rows), layers[-1][0].shape[1]))
    for start in range(0, len(rows), FORWARD_BLOCK_ROWS):
        block = np.ascontiguousarray(rows[start : start + FORWARD_BLOCK_ROWS].T)
        out[start : start + block.shape[1]] = _forward_block(layers, block).T
    return out


def _forward_block(layers: list[tuple[np.ndarray, np.ndarray, bool]], columns: np.ndarray) -> np.ndarray:
    """The network's output for one block of rows held as columns (units x rows)."""
    for kernel, bias, relu in layers:
        columns = _dense(columns, kernel, bias)
        if relu:
            np.maximum(columns, 0.0, out=columns)
    return columns


#: Up to this many products (inputs x units x rows) a layer's are made at once: a few rows'
#: layer is then a few array operations, not two per input unit.
FEW_PRODUCTS = 2**15


def _dense(columns: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``(columns.T @ kernel + bias).T`` for rows held as columns, summed over the inputs in
    order, row by row the same."""
    if kernel.size * columns.shape[1] <= FEW_PRODUCTS:
        return _dense_at_once(columns, kernel, bias)
    out = np.repeat(bias[:, None], columns.shape[1], axis=1)
    term = np.empty_like(out)
    for position, weights in enumerate(kernel):
        np.multiply(weights[:, None], columns[position], out=term)
        out += term
    return out


def _dense_at_once(columns: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """:func:`_dense` of a few rows: every input's products made at once, below the bias, then
    added down the inputs. A reduction over the outer axis adds one slice after the other, in
    order (NumPy sums pairwise only along the innermost one), so the bits are :func:`_dense`'s."""
    products = np.empty((kernel.shape[0] + 1, kernel.shape[1], columns.shape[1]))
    products[0] = bias[:, None]
    np.multiply(kernel[:, :, None], columns[:, None, :], out=products[1:])
    return np.add.reduce(products, axis=0)


class AutoencoderDetector(Detector):
    """Dense autoencoder scored by reconstruction error.

    Parameters
    ----------
    hidden_units
        Widths of the encoder's hidden layers (the decoder mirrors them).
    code_ratio
        Bottleneck width as a share of the number of features (at least 2 units).
    epochs
        Most passes over the training rows (early stopping usually ends sooner).
    batch_size
        Rows per gradient step.
    learning_rate
        Adam step size.
    validation_fraction
        Share of training rows held out for early stopping.
    patience
        Epochs without validation improvement before stopping.
    max_training_rows
        Cap on rows the network trains on (a seeded sample beyond it).
    threads
        TensorFlow thread pool size, applied when TensorFlow starts.
    target_fpr, calibration_fraction, random_state
        As for every detector (see :class:`ztad.detection.detectors.base.Detector`).

    Attributes
    ----------
    weights_ : list of numpy.ndarray
        The network's weights (kernel, bias, layer by layer): what scoring reads and the
        artifact holds.
    model_ : keras.Model
        The network in Keras, built from ``weights_`` when first asked for after a load.
    code_size_ : int
        Width of the bottleneck.
    scaler_ : FeatureScaler
    history_ : dict
        ``epochs_run``, ``best_epoch``, ``best_val_loss`` and the per-epoch ``loss`` and
        ``val_loss``: the training metrics.
    """

    name = "autoencoder"
    libraries = ("numpy", "scikit-learn", "tensorflow", "keras")
    rows_split_freely = True

    def __init__(
        self,
        *,
        hidden_units: tuple[int, ...] = (32,),
        code_ratio: float = 0.3,
        epochs: int = 30,
        batch_size: int = 512,
        learning_rate: float = 1e-3,
        validation_fraction: float = 0.1,
        patience: int = 3,
        max_training_rows: int = 100_000,
        threads: int = 1,
        target_fpr: float = 0.01,
        calibration_fraction: float = 0.2,
        random_state: int = 0,
    ):
        self.hidden_units = hidden_units
        self.code_ratio = code_ratio
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.max_training_rows = max_training_rows
        self.threads = threads
        self.target_fpr = target_fpr
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    # ----------------------------------------------------------------- training

    def _training_rows(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seeded (train, validation) rows, after the row cap."""
        if not 0.0 < self.validation_fraction < 1.0:
            raise DetectorError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction}"
            )
        order = np.random.default_rng(self.random_state).permutation(len(Z))
        order = order[: self.max_training_rows]
        n_validation = min(max(1, round(len(order) * self.validation_fraction)), len(order) - 1)
        return Z[order[n_validation:]], Z[order[:n_validation]]

    def _fit_model(self, X: np.ndarray) -> None:
        from ztad.detection.detectors.tensorflow_start import quiet_start

        keras = _keras(self.threads)
        keras.utils.set_random_seed(self.random_state)
        self.scaler_ = FeatureScaler.fit(X)
        train, validation = self._training_rows(self.scaler_.transform(X).astype(np.float32))
        self.code_size_ = max(2, round(X.shape[1] * self.code_ratio))
        # TensorFlow's first use (device probing, the input pipeline's NodeDef notices) writes
        # to standard error from C++, like its import.
        with quiet_start():
            model = _build_network(keras, X.shape[1], tuple(self.hidden_units), self.code_size_)
            model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
            stop = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
            with _quiet_numpy_bridge():
                fitted = model.fit(
                    train,
                    train,
                    validation_data=(validation, validation),
                    epochs=self.epochs,
                    batch_size=self.batch_size,
                    shuffle=True,
                    callbacks=[stop],
                    verbose=0,
                )
        self.model_ = model
        self.history_ = _history_summary(fitted.history)

    @property
    def model_(self):
        """The network in Keras (``keras.Model``), built from the weights on first use after a
        load: scoring does not need it, training and :meth:`reconstruct_with_keras` do."""
        if getattr(self, "_model", None) is None:
            if getattr(self, "weights_", None) is None:
                raise AttributeError("model_")
            keras = _keras(self.threads)
            model = _build_network(keras, self.n_features_in_, tuple(self.hidden_units), self.code_size_)
            model.set_weights(self.weights_)
            self._model = model
        return self._model

    @model_.setter
    def model_(self, model) -> None:
        self._model = model
        self.weights_ = [np.asarray(w) for w in model.get_weights()]

    # ----------------------------------------------------------------- scoring

    def _squared_errors(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(X).astype(np.float32)
        return (Z.astype(np.float64) - dense_forward(self._dense_layers(), Z)) ** 2

    def _dense_layers(self) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """The fitted network's layers as arrays, read once per fitted or loaded network."""
        if getattr(self, "_layers_of", None) is not self.weights_:
            layout = network_layout(self.n_features_in_, tuple(self.hidden_units), self.code_size_)
            self._layers = layers_from_weights(self.weights_, layout)
            self._layers_of = self.weights_
        return self._layers

    def reconstruct_with_keras(self, X) -> np.ndarray:
        """The network's reconstruction of ``X``'s standardised rows as Keras computes it
        (float32), to hold :func:`dense_forward` to it."""
        from ztad.detection.detectors.tensorflow_start import quiet_start

        Z = self.scaler_.transform(self._input(X)).astype(np.float32)
        with quiet_start(), _quiet_numpy_bridge():
            return np.asarray(self.model_(Z, training=False))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._squared_errors(X).mean(axis=1)

    def feature_errors(self, X) -> pd.DataFrame:
        """Squared reconstruction error per row and feature (standardised units).

        The row's score is their mean, so the largest entries name the features that did not
        fit what the network learned as normal.
        """
        return self._feature_frame(self._squared_errors(self._input(X)), X)

    def feature_contributions(self, X) -> pd.DataFrame:
        """Same as :meth:`feature_errors`."""
        return self.feature_errors(X)

    # ----------------------------------------------------------------- persistence

    def _state(self) -> dict:
        return {"scaler": self.scaler_.to_dict(), "history": self.history_, "code_size": self.code_size_}

    def _load_state(self, state: dict) -> None:
        self.scaler_ = FeatureScaler.from_dict(state["scaler"])
        self.history_ = state["history"]
        self.code_size_ = int(state["code_size"])

    def _save_model(self, folder: Path) -> None:
        weights = {f"w{i:03d}": np.asarray(w) for i, w in enumerate(self.weights_)}
        np.savez(folder / MODEL_FILE, **weights)

    def _load_model(self, folder: Path) -> None:
        with np.load(folder / MODEL_FILE, allow_pickle=False) as stored:
            weights = [stored[name] for name in sorted(stored.files)]
        layout = network_layout(self.n_features_in_, tuple(self.hidden_units), self.code_size_)
        layers_from_weights(weights, layout)  # refuses arrays of another network
        self._model = None
        self.weights_ = weights


def _history_summary(history: dict) -> dict:
    """Training metrics of a Keras ``History.history`` dict, as plain floats."""
    val_loss = [float(v) for v in history["val_loss"]]
    best = int(np.argmin(val_loss))
    return {
        "epochs_run": len(val_loss),
        "best_epoch": best + 1,
        "best_val_loss": val_loss[best],
        "loss": [float(v) for v in history["loss"]],
        "val_loss": val_loss,
    }
