"""The engine's import graph, read from its source with `ast`, and any cycle in it.

Every import statement counts, at module level or inside a function: an import moved into a
function still ties the two modules together, it only hides the knot. The one exception is
an `if TYPE_CHECKING:` block, which never runs. Edges are the modules an import names
(`from engine.pool import DIRTY` → engine.pool; `from engine.policies import victims` →
engine.policies.victims); the implicit import of a parent package is not an edge, since a
package's `__init__` importing its own submodules is how packages are built.

`python -m engine.tools.imports` prints one line per module with what it imports, then the
cycles (none, we hope). With `--type-checking` the TYPE_CHECKING imports count too, so
annotations cannot tie modules into a circle either (where two sides need each other's
type, one declares a Protocol of what it uses: `paging.MachinePolicy`, `recording.RecordedRun`).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parent.parent


def module_name(path: Path, root: Path = ENGINE_DIR) -> str:
    """The dotted name of a source file under the engine package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(
    tree: ast.AST, modules: set[str], here: str, is_pkg: bool, type_checking: bool = False
) -> set[str]:
    """Engine modules named by the import statements of one tree (TYPE_CHECKING blocks left
    out unless type_checking)."""
    found: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if not type_checking and isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here if is_pkg else here.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif base in modules:
                    found.add(base)
        stack.extend(ast.iter_child_nodes(node))
    found.discard(here)
    return found


def import_graph(root: Path = ENGINE_DIR, type_checking: bool = False) -> dict[str, set[str]]:
    """Module → the engine modules it imports, for every .py file under root."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_pkg = path.name == "__init__.py"
        graph[name] = _imports(tree, modules, name, is_pkg, type_checking)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


def main(argv: list[str] | None = None) -> int:
    """Print the graph and its cycles; exit 1 when there is a cycle."""
    args = sys.argv[1:] if argv is None else argv
    sys.setrecursionlimit(10_000)
    graph = import_graph(type_checking="--type-checking" in args)
    for name in sorted(graph):
        print(f"{name} -> {', '.join(sorted(graph[name])) or '(nothing of engine)'}")
    cycles = find_cycles(graph)
    print()
    if not cycles:
        print(f"{len(graph)} modules, no import cycle")
        return 0
    for group in cycles:
        print("cycle: " + " <-> ".join(group))
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
