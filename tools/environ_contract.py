"""An import-linter contract type: only the allowed modules touch the process environment.

Reading ``os.environ`` is not an import, so the import graph cannot show it; this
contract parses each module of the root package and reports every use of
``os.environ``, ``os.getenv``, ``os.putenv`` or ``os.unsetenv`` outside
``allowed_modules`` (module names; a package allows its submodules).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

from importlinter import Contract, ContractCheck, fields, output

_ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _uses(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in _ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(a.name in _ENV_NAMES for a in node.names):
                lines.append(node.lineno)
    return sorted(lines)


def _source(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


class EnvironContract(Contract):
    """Only ``allowed_modules`` read or change the process environment."""

    type_name = "environ"

    allowed_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        allowed = [str(m) for m in self.allowed_modules]  # type: ignore[attr-defined]
        violations: list[str] = []
        roots = self.session_options["root_packages"]
        for module in sorted(graph.modules):
            if module.split(".")[0] not in roots:
                continue
            if any(module == a or module.startswith(a + ".") for a in allowed):
                continue
            path = _source(module)
            if path is None:
                continue
            for line in _uses(ast.parse(path.read_text(), str(path))):
                violations.append(f"{module}:{line}")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for where in check.metadata["violations"]:
            output.print_error(f"{where} uses the process environment", bold=False)
            output.new_line()
