"""STYLE.md, habit 13: `common/` is the lowest layer and imports no app (demo data: demo/)."""

import ast
from pathlib import Path

import common

APPS = {"accounts", "agencies", "applicants", "cards", "demo", "privacy"}


def test_common_imports_no_app():
    root = Path(common.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [
                f"{path.relative_to(root)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in APPS
            ]
    assert offenders == []
