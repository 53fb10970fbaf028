"""Model files written and read by skops: quiet in a process that has loaded Airflow."""

import subprocess
import sys
import textwrap

#: A module that, as Airflow's do, answers every attribute asked of it with a deprecation
#: warning; then a model saved and read back with every warning recorded.
PROBE = textwrap.dedent("""
    import sys, types, warnings
    from pathlib import Path
    import tempfile

    noisy = types.ModuleType("noisy_deprecations")
    def __getattr__(name):
        warnings.warn(f"noisy_deprecations.{name} is deprecated", FutureWarning, stacklevel=2)
        raise AttributeError(name)
    noisy.__getattr__ = __getattr__
    sys.modules["noisy_deprecations"] = noisy

    from sklearn.ensemble import IsolationForest
    from ztad.detection.detectors.safe_files import load_model, save_model

    model = IsolationForest(n_estimators=3, random_state=0).fit([[0.0], [1.0], [2.0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = Path(tempfile.mkdtemp()) / "model.skops"
        save_model(model, path)
        load_model(path)
    print(sum("noisy_deprecations" in str(w.message) for w in caught))
""")


def test_saving_and_reading_a_model_leaves_other_modules_warnings_out():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"
