"""The roster holds no case data and asks case work exactly one question."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _cases_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [n for n in names if n == "cases" or n.startswith("cases.")]
    return found


def test_roster_reaches_case_work_only_through_the_screening_verdict():
    offenders = {
        str(path.relative_to(ROOT)): _cases_imports(path)
        for path in (ROOT / "portal" / "roster").rglob("*.py")
    }
    offenders = {path: mods for path, mods in offenders.items() if mods}
    assert offenders == {"portal/roster/screening.py": ["cases.screening"]}


def test_roster_templates_never_include_case_templates():
    for path in (ROOT / "templates" / "roster").rglob("*"):
        if path.is_file():
            assert "cases/" not in path.read_text(), path
