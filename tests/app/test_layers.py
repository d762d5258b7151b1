"""The house's layering, read from the source: rooms import each other in one direction only.

views → domain packages (rooms) → models / grouping; tasks thin; grouping pure.
The application factory (`webapp/__init__.py`) is the composition root that
wires everything together, so it is left out of the graph.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("accounts", "charts", "exports", "jobs", "projects", "sessions", "sources", "thumbnails")
ABOVE_ROOMS = ("webapp.views", "webapp.cli", "webapp.job_types", "webapp.demo", "tasks")
PURE = ("webapp.grouping", "webapp.gaps", "webapp.text", "webapp.numbers", "webapp.config")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def node_of(module: str) -> str:
    """The graph node of a module: its room or area package, or the module itself."""
    parts = module.split(".")
    if parts[0] == "tasks":
        return "tasks"
    if len(parts) > 1 and (parts[1] in ROOMS or parts[1] in ("views", "models")):
        return ".".join(parts[:2])
    return module


def init_imports(package: str) -> tuple[set[str], set[str]]:
    """What a package's `__init__.py` offers other rooms: names it binds with `from .module import name`,
    and submodules it offers whole (`from . import locks`)."""
    init = ROOT / package.replace(".", "/") / "__init__.py"
    names: set[str] = set()
    submodules: set[str] = set()
    if init.exists():
        for node in ast.parse(init.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for alias in node.names:
                    if node.module:
                        names.add(alias.asname or alias.name)
                    else:
                        submodules.add(f"{package}.{alias.name}")
    return names, submodules


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every webapp/tasks module that `path` imports (function-level imports included), with its line."""
    module = module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (ROOT / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                    ROOT / candidate.replace(".", "/") / "__init__.py"
                ).exists()
                # A package that re-exports a function named like one of its modules gives the function.
                is_module = is_module and alias.name not in init_imports(base)[0]
                found.append((candidate if is_module else base, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] in ("webapp", "tasks")]


def project_graph(root: Path = ROOT) -> dict[str, dict[str, str]]:
    """node → {imported node: "file:line" of one such import}; the factory (`webapp`) is left out."""
    graph: dict[str, dict[str, str]] = {}
    for path in [*sorted((root / "webapp").rglob("*.py")), *sorted((root / "tasks").rglob("*.py"))]:
        source = node_of(module_name(path))
        if source == "webapp":
            continue
        edges = graph.setdefault(source, {})
        for target, line in imports_of(path):
            target = node_of(target)
            if target not in (source, "webapp"):
                edges.setdefault(target, f"{path.relative_to(root)}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    """One cycle of the graph as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in graph.get(node, {}):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_between_rooms():
    graph = project_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(
        f"{a} ({graph[a][b]})" for a, b in zip(cycle, cycle[1:])
    )


def test_the_cycle_finder_sees_a_cycle():
    graph = {"a": {"b": "x:1"}, "b": {"c": "x:2"}, "c": {"a": "x:3"}, "d": {"a": "x:4"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": ""}, "b": {}}) is None


@pytest.mark.parametrize("room", ROOMS)
def test_rooms_never_import_what_sits_above_them(room):
    above = {target: where for target, where in project_graph()[f"webapp.{room}"].items() if target.startswith(ABOVE_ROOMS)}
    assert not above, f"webapp.{room} imports from above it: {above}"


def test_pure_modules_import_no_framework_and_no_room():
    for module in PURE:
        path = ROOT / (module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level}
        relative = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
        assert not {n.split(".")[0] for n in names} & {"flask", "sqlalchemy", "flask_sqlalchemy", "webapp", "tasks"}, module
        assert all(f"webapp.{name}" in PURE for name in relative), f"{module} imports {relative}"


def test_other_rooms_enter_a_room_through_its_package():
    """`from ..sessions import x`, never `from ..sessions.regroup import x`, outside the sessions room."""
    private = []
    for path in [*(ROOT / "webapp").rglob("*.py"), *(ROOT / "tasks").rglob("*.py")]:
        source = node_of(module_name(path))
        for target, line in imports_of(path):
            parts = target.split(".")
            public = init_imports(".".join(parts[:2]))[1]
            if len(parts) > 2 and parts[1] in ROOMS and node_of(target) != source and target not in public:
                private.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not private, "\n".join(private)
