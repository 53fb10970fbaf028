"""Small fitted ensembles for the model registry tests."""

from tests.ztad.detection.detectors.synthetic import normal_features
from ztad.detection.ensemble import Ensemble

MEMBERS = ("isolation_forest", "ocsvm", "ecod")


def fitted_ensemble(seed: int = 1, rows: int = 1000) -> tuple[Ensemble, object]:
    train = normal_features(rows, seed=seed)
    model = Ensemble.from_names(MEMBERS, params={"isolation_forest": {"n_estimators": 30}})
    return model.fit(train), train
