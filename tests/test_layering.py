"""The domain package never depends on Airflow, and start-up stays light."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ztad_source_never_imports_airflow():
    offenders = []
    for path in (ROOT / "ztad").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "airflow"]
    assert offenders == []


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


def test_running_the_whole_pipeline_module_imports_no_airflow():
    loaded = _modules_after("import ztad.pipeline, ztad.cli, ztad.detection.policy, ztad.findings.build")
    assert "airflow" not in loaded


def test_cli_start_up_imports_no_heavy_library():
    loaded = _modules_after("import ztad.cli; ztad.cli.build_parser()")
    assert not loaded & {"tensorflow", "keras", "sklearn", "pandas", "airflow", "shap"}
