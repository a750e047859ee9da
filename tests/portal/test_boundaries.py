"""The one rule of the house: public code never reads confidential data."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "package", ["portal/notices", "portal/accounts", "portal/projects", "portal/audit"]
)
def test_public_apps_never_import_cases(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if m == "cases" or m.startswith("cases.")
        )
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_public_templates_never_include_case_templates():
    for path in (ROOT / "templates" / "notices").rglob("*.html"):
        assert "cases/" not in path.read_text(), path
