"""The shape of the code and of the suite: no import circle anywhere, the library and its `--help` load no heavy
runtime, and under CI a test cannot pass by skipping."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("facegraph", "evaluation", "assets", "dagster_project")
HEAVY = ("onnxruntime", "cv2", "faiss", "fastapi")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, modules: set[str]) -> set[str]:
    """The modules among `modules` that the import statements of `tree` load, also those inside functions; not
    those under `if TYPE_CHECKING:`, which never run. `from a import b` loads `a.b` where that is a module, else
    `a` (a package's own `__init__` runs for any of its modules, so that edge is not counted)."""
    found, todo = set(), [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo += node.orelse
            continue
        todo += ast.iter_child_nodes(node)
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                      for alias in node.names}
    return found & modules


def import_graph() -> nx.DiGraph:
    modules = {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        graph.add_edges_from((name, target) for target in imported(ast.parse(path.read_text()), set(modules))
                             if target != name)
    return graph


def test_no_module_imports_itself_round_a_circle():
    circles = [sorted(part) for part in nx.strongly_connected_components(import_graph()) if len(part) > 1]
    assert not circles, f"import circles (imports inside functions count too): {circles}"


def test_the_circle_finder_sees_imports_inside_functions():
    tree = ast.parse("def f():\n    from facegraph.cli import main\nif TYPE_CHECKING:\n    import facegraph.persons\n")
    assert imported(tree, {"facegraph.cli", "facegraph.persons"}) == {"facegraph.cli"}


@pytest.mark.parametrize("code", [
    "import facegraph",
    "from facegraph.cluster_settings import ClusterSettings",
    "import sys; sys.argv = ['facegraph', '--help']\nfrom facegraph.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
], ids=["import facegraph", "the settings", "facegraph --help"])
def test_the_library_and_its_help_load_no_model_runtime_or_web_framework(code):
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


@pytest.mark.parametrize("ci, outcome", [("true", "1 error"), ("", "1 skipped")], ids=["under CI", "elsewhere"])
def test_a_test_whose_labeled_sets_are_missing_fails_under_ci_and_skips_elsewhere(tmp_path, ci, outcome):
    test = "tests/facegraph/test_faults.py::test_a_folder_is_listed_once_so_each_entry_counts_once"
    environment = {**os.environ, "CI": ci, "FACEGRAPH_DATASETS": str(tmp_path / "nowhere")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], cwd=ROOT,
                          capture_output=True, text=True, env=environment)
    assert outcome in done.stdout.splitlines()[-1] and (done.returncode != 0) == bool(ci), done.stdout
    assert "labeled photo sets not found" in done.stdout
