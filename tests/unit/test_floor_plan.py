"""The floor plan holds: imports run one way and make no cycle, and every job named by its
dotted path (enqueued after commit, or scheduled by cron) is a real function."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from rq.utils import import_attribute

from workers.schedule import PERIODIC_JOBS

REPO = Path(__file__).resolve().parents[2]
APP_PACKAGES = (
    "web",
    "bot",
    "workers",
    "services",
    "wechat",
    "render",
    "texts",
    "infra",
    "models",
    "demo_identity",
)
JOB_PATH_PREFIX = "workers."


def test_the_import_linter_contracts_are_kept():
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 broken" in lint.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_round_a_cycle():
    graph = grimp.build_graph(*APP_PACKAGES, "simulator")
    # A package's __init__ may import its own modules; that is not a cycle between modules.
    for package in APP_PACKAGES:
        for child in graph.find_children(package):
            for imported in graph.find_modules_directly_imported_by(child):
                if imported == package:
                    pytest.fail(f"{child} imports its own package {package}")
    assert _cycles(graph) == []


def _job_paths() -> dict[str, str]:
    """Every string in the app's code that names a job by its dotted path, and where."""
    paths: dict[str, str] = {}
    for package in APP_PACKAGES:
        for source in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                value = getattr(node, "value", None)
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(value, str)
                    and value.startswith(JOB_PATH_PREFIX)
                    and value.count(".") == 2
                    and " " not in value
                ):
                    paths[value] = f"{source.relative_to(REPO)}:{node.lineno}"
    return paths


def test_the_job_paths_are_found():
    paths = _job_paths()
    assert "workers.notifications.notify" in paths and len(paths) >= 10, paths


@pytest.mark.parametrize("path", sorted(_job_paths()))
def test_every_enqueued_job_path_is_a_real_function(path):
    assert callable(import_attribute(path)), _job_paths()[path]


@pytest.mark.parametrize("job", PERIODIC_JOBS, ids=lambda job: job.func)
def test_every_scheduled_job_is_a_real_function(job):
    assert callable(import_attribute(job.func))
