"""The domain package is layered: no import cycles, lower layers never import higher ones,
it never depends on Airflow, and start-up stays light.

Imports are read from the source (``ast``), those inside functions included, so a lazy
import cannot hide a cycle or a layer pointing the wrong way.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The layers of ``ztad``, lowest first. A module may import its own layer and those below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ztad.schema", "ztad.config", "ztad.forking"),
    ("ztad.ingest",),
    ("ztad.behaviour",),
    ("ztad.detection",),
    ("ztad.findings",),
    ("ztad.store",),
    ("ztad.feedback",),
    ("ztad.pipeline",),
    ("ztad.reports",),
    ("ztad.service",),
    ("ztad.evaluation",),
    ("ztad.synth",),
    ("ztad.cli",),
)
#: Tools on top of the job: nothing in production may import them.
NOT_PRODUCTION = ("ztad.evaluation", "ztad.synth", "ztad.cli")


def _modules(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """Every module of ``ztad``: dotted name -> (file, is a package's ``__init__``)."""
    found = {}
    for path in (root / "ztad").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the ``ztad`` modules it imports anywhere in its source."""
    modules = _modules(root)
    graph = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets |= {f"{base}.{alias.name}" for alias in node.names} | {base}
        resolved = set()
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                resolved.add(target)
        # A package's __init__ that re-exports its own submodules is not a dependency cycle.
        graph[name] = {t for t in resolved if not (is_package and t.startswith(name + "."))}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_of(module: str) -> int | None:
    """The position of ``module``'s layer in :data:`LAYERS` (``None`` for ``ztad`` itself)."""
    for position, layer in enumerate(LAYERS):
        if any(module == top or module.startswith(top + ".") for top in layer):
            return position
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """``"a -> b"`` for every import of a higher layer by a lower one."""
    wrong = []
    for module, targets in graph.items():
        for target in targets:
            here, there = layer_of(module), layer_of(target)
            if here is not None and there is not None and there > here:
                wrong.append(f"{module} -> {target}")
    return sorted(wrong)


def test_there_is_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_every_module_belongs_to_a_layer():
    assert [m for m in import_graph() if m != "ztad" and layer_of(m) is None] == []


def test_no_layer_imports_a_higher_one():
    assert layer_violations(import_graph()) == []


def test_production_never_imports_the_evaluation_the_generator_or_the_cli():
    graph = import_graph()
    production = [m for m in graph if not m.startswith(NOT_PRODUCTION) and m != "ztad"]
    wrong = [
        f"{module} -> {target}"
        for module in production
        for target in graph[module]
        if target.startswith(NOT_PRODUCTION)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"ztad.a": {"ztad.b"}, "ztad.b": {"ztad.c"}, "ztad.c": {"ztad.a"}}, [["ztad.a", "ztad.b", "ztad.c"]]),
        ({"ztad.a": {"ztad.b"}, "ztad.b": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles_and_only_cycles(graph, expected):
    assert cycles(graph) == expected


def test_the_layer_check_catches_a_lower_layer_importing_a_higher_one():
    graph = {"ztad.ingest.files": {"ztad.pipeline.runner"}, "ztad.pipeline.runner": {"ztad.ingest.files"}}
    assert layer_violations(graph) == ["ztad.ingest.files -> ztad.pipeline.runner"]


def test_a_function_level_import_counts(tmp_path):
    package = tmp_path / "ztad"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "schema.py").write_text("def f():\n    from ztad.pipeline import run_day\n")
    (package / "pipeline.py").write_text("from ztad.schema import f\n")
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["ztad.pipeline", "ztad.schema"]]
    assert layer_violations(graph) == ["ztad.schema -> ztad.pipeline"]


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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return {name.split(".")[0] for name in out.stdout.split()}


def test_running_the_whole_pipeline_module_imports_no_airflow():
    loaded = _modules_after("import ztad.pipeline, ztad.cli, ztad.detection.policy, ztad.findings.build")
    assert "airflow" not in loaded


def test_cli_start_up_imports_no_heavy_library():
    loaded = _modules_after("import ztad.cli; ztad.cli.build_parser()")
    assert not loaded & {"tensorflow", "keras", "sklearn", "pandas", "airflow", "shap", "fastapi", "uvicorn"}
