"""A fitted RBF One-Class SVM's decision function in numpy, block by block.

scikit-learn's ``OneClassSVM.decision_function`` hands the rows to libsvm, which evaluates the
kernel of one row against every support vector at a time: on a day of a million events it is
most of the night's scoring time. The decision function is the same sum here,

    decision(x) = sum_i dual_coef_i * exp(-gamma * ||x - sv_i||^2) + intercept

(libsvm's ``sum - rho`` with ``intercept = -rho``), with the exponent of a block of rows and all
support vectors taken from one matrix product: ``-gamma * ||x - sv||^2`` is
``[x, 1, ||x||^2] . [2 gamma sv, -gamma ||sv||^2, -gamma]``, so that the kernel block is made by
the product and passes through memory twice more (clipped at 0, exponentiated), where adding the
norms and scaling in turn made it pass five times. The order of the additions differs from
libsvm's, so the results agree to rounding (about 1e-13 on the pipeline's standardised
features), not to the last bit (``tests/ztad/detection/detectors/test_rbf_decision.py`` holds
them within 1e-9). Each block's kernel matrix is at most :data:`BLOCK_ELEMENTS` numbers, whatever
the number of rows.

A matrix product's last bits depend on the shape of the block a row is in, so the blocks hold a
power of two of rows, at most the detectors' scoring chunk: a day scored chunk by chunk then
meets the same blocks, and gets the same bits, as the day scored in one go.

The products run on one BLAS thread (:mod:`ztad.detection.detectors.blas_threads`): they are
thin (a few dozen features), and a second thread cost four times the CPU time on a busy
machine; a large day's chunks are scored side by side instead.
"""

from __future__ import annotations

import numpy as np

from ztad.detection.detectors.base import SCORE_CHUNK_ROWS
from ztad.detection.detectors.blas_threads import one_blas_thread

#: Kernel values held at once (rows of a block x support vectors): 4 MiB of float64, near a
#: core's cache, through which each block passes half a dozen times.
BLOCK_ELEMENTS = 2**19


def block_rows(support_vectors: int) -> int:
    """Rows per block: the largest power of two whose kernel block holds at most
    :data:`BLOCK_ELEMENTS` values, capped at the scoring chunk (a power of two too), so that
    the blocks of a chunked day line up with those of the whole day."""
    rows = max(1, BLOCK_ELEMENTS // max(1, support_vectors))
    return min(1 << (rows.bit_length() - 1), SCORE_CHUNK_ROWS)


def _squared_norms(values: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", values, values)


def decision_function(model, X) -> np.ndarray:
    """``model.decision_function(X)`` of a fitted RBF ``OneClassSVM`` (positive = inlier)."""
    if model.kernel != "rbf":
        raise ValueError(f"the decision function is computed for the RBF kernel only, not {model.kernel!r}")
    values = np.ascontiguousarray(X, dtype=np.float64)
    vectors = model.support_vectors_
    if values.ndim != 2 or values.shape[1] != vectors.shape[1]:
        raise ValueError(f"the model takes {vectors.shape[1]} features, got an array of shape {values.shape}")
    coefficients = model.dual_coef_[0]
    gamma = float(model._gamma)
    exponents = _exponent_factors(vectors, gamma)
    decision = np.empty(len(values))
    rows = block_rows(len(vectors))
    with one_blas_thread():
        for start in range(0, len(values), rows):
            kernel = _augmented(values[start : start + rows]) @ exponents  # -gamma * squared distances
            np.minimum(kernel, 0.0, out=kernel)  # rounding must not make a distance negative
            np.exp(kernel, out=kernel)
            decision[start : start + len(kernel)] = kernel @ coefficients
    return decision + model.intercept_[0]


def _exponent_factors(vectors: np.ndarray, gamma: float) -> np.ndarray:
    """``[2 gamma sv, -gamma ||sv||^2, -gamma]`` as (features + 2) x support vectors: the right
    side of the product that gives ``-gamma * ||x - sv||^2`` for the rows :func:`_augmented`."""
    rows = [
        (2.0 * gamma) * vectors.T,
        -gamma * _squared_norms(vectors)[None, :],
        np.full((1, len(vectors)), -gamma),
    ]
    return np.ascontiguousarray(np.vstack(rows))


def _augmented(block: np.ndarray) -> np.ndarray:
    """The rows ``[x, 1, ||x||^2]``: the left side of the exponents' product."""
    augmented = np.empty((len(block), block.shape[1] + 2))
    augmented[:, :-2] = block
    augmented[:, -2] = 1.0
    augmented[:, -1] = _squared_norms(block)
    return augmented
