"""`make mutation`: mutation testing of the core rule modules with mutmut 2, each module against its
mirroring tests only (a few hundred tests, not the whole suite), so that it runs on 2 cores.

Not part of `make test` or CI: the team runs it after changing a rule module, and keeps the score in
the README ("Test strength") at 90% or more of the non-equivalent mutants.

    make mutation                                   # every module below
    make mutation MUTATION_MODULES="cards/expiry.py applicants/policy.py"
    .venv/bin/mutmut show <id>                      # the diff of one mutant

mutmut 2 writes each mutant into the source file in place and restores it afterwards: do not edit
the modules while it runs (after a hard stop, `git checkout -- <module>`). Results accumulate in
`.mutmut-cache` (git-ignored); delete it to start over. Tests run on their own database
(`<DATABASE_URL's name>_mutation`, kept between mutants with --reuse-db).
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# module -> the tests that mirror it (and the ones that reach its rules through another door).
MODULES: dict[str, list[str]] = {
    "cards/permissions.py": ["tests/cards/test_permissions.py"],
    "cards/expiry.py": ["tests/cards/test_boundaries.py", "tests/cards/test_deadlines.py"],
    "applicants/policy.py": ["tests/applicants/test_policy.py"],
    "common/idempotency.py": ["tests/common/test_idempotency.py", "tests/api/test_idempotency.py"],
    "cards/sweeps.py": ["tests/cards/test_sweeps.py", "tests/cards/test_boundaries.py"],
    "cards/scope.py": [
        "tests/admin/test_scope.py",
        "tests/cards/test_boundaries.py",
        "tests/cards/test_permissions.py",
    ],
    "cards/public/lookup.py": ["tests/status/test_lookup.py", "tests/status/test_answers.py"],
    "cards/services.py": [
        "tests/cards/test_services.py",
        "tests/cards/test_boundaries.py",
        "tests/cards/test_deadlines.py",
        "tests/cards/test_permissions.py",
    ],
}

KILLED = {"ok_killed"}
SURVIVED = {"bad_survived"}
TIMEOUT = {"bad_timeout", "ok_suspicious"}


def mutation_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shebao")
    base, _, name = url.rpartition("/")
    return f"{base}/{name}_mutation"


def run(module: str) -> int:
    tests = MODULES[module]
    runner = [
        str(BIN / "python"),
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--reuse-db",
        # Plugins the core modules' tests do not use: each mutant starts a fresh pytest.
        *("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:faker", "-p", "no:anyio"),
        *tests,
    ]
    command = [
        str(BIN / "mutmut"),
        "run",
        "--paths-to-mutate",
        module,
        "--runner",
        shlex.join(runner),
        "--simple-output",
        "--no-progress",
        # mutmut 2.5.1 loses track of some decorator mutants and stops ("Mutant.line is
        # required"); a removed @dataclass or @transition is caught at import anyway.
        "--disable-mutation-types",
        "decorator",
    ]
    print(f"== {module} against {' '.join(tests)}", flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def summary() -> list[tuple[str, int, int, int, list[int]]]:
    """(module, killed, survived, timed out, ids of survivors) from mutmut's cache."""
    cache = ROOT / ".mutmut-cache"
    if not cache.exists():
        return []
    db = sqlite3.connect(cache)
    rows = db.execute(
        "SELECT SourceFile.filename, Mutant.id, Mutant.status FROM Mutant "
        "JOIN Line ON Mutant.line = Line.id JOIN SourceFile ON Line.sourcefile = SourceFile.id"
    ).fetchall()
    by_module: dict[str, list[tuple[int, str]]] = {}
    for filename, mutant_id, status in rows:
        by_module.setdefault(filename, []).append((mutant_id, status))
    result = []
    for module, mutants in sorted(by_module.items()):
        killed = sum(status in KILLED for _, status in mutants)
        survived = [mutant_id for mutant_id, status in mutants if status in SURVIVED]
        timed_out = sum(status in TIMEOUT for _, status in mutants)
        result.append((module, killed, len(survived), timed_out, survived))
    return result


def main(argv: list[str]) -> int:
    modules = argv or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        print(f"not a core module: {' '.join(unknown)} (choose from {' '.join(MODULES)})")
        return 2
    os.environ["DATABASE_URL"] = mutation_database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    for module in modules:
        run(module)
    print("\nmodule: killed (incl. timeouts) / total; survivors by id (`mutmut show <id>`)")
    for module, killed, survived, timed_out, ids in summary():
        total = killed + survived + timed_out
        print(f"{module}: {killed + timed_out}/{total}; survived: {ids or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
