"""`make mutation`: mutation testing of the core rule modules with mutmut's mutation engine, each
module against its mirroring tests only (not the whole suite), so that it runs on 2 cores.

Not part of `make test` or CI: the team runs it after changing a rule module, and keeps the score in
the README ("Test strength") at 90% or more of the non-equivalent mutants.

    make mutation                                   # every module below
    make mutation MUTATION_MODULES="cards/expiry.py applicants/policy.py"
    make mutation MUTATION_MODULES=cards/services.py MUTATION_ARGS="--functions card_submit"
    make mutation MUTATION_MODULES=cards/expiry.py MUTATION_ARGS="--from 24"   # resume a run
    make mutation MUTATION_MODULES=cards/sweeps.py MUTATION_ARGS="--only 3,17"  # re-check survivors
    make mutation MUTATION_MODULES=cards/public/lookup.py MUTATION_ARGS="--every 10"  # a sample

For each mutant mutmut 2 makes of the module (operators, comparisons, numbers, strings, keywords,
arguments...), the mutant is written into the file in place, the module's tests run in a fresh
pytest (`-x`: the first failure kills it), and the file is restored: do not edit the modules while
it runs (after a hard stop, `git checkout -- <module>`). mutmut's own `run` command is not used: its
result cache loses track of some mutants and stops ("Mutant.line is required", mutmut 2.5.1).
The report, with the diff of every survivor, goes to `var/mutation/<module>.txt`; tests run on
their own database (`<DATABASE_URL's name>_mutation`, kept between mutants with --reuse-db).
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# module -> the tests that mirror it (and the ones that reach its rules through another door).
MODULES: dict[str, list[str]] = {
    "cards/permissions.py": ["tests/cards/test_permissions.py"],
    "cards/expiry.py": [
        "tests/cards/test_boundaries.py",
        "tests/cards/test_deadlines.py",
        "tests/cards/test_locks.py",
    ],
    "applicants/policy.py": ["tests/applicants/test_policy.py"],
    "applicants/selectors.py": [
        "tests/applicants/test_selectors.py",
        "tests/applicants/test_rollup.py",
    ],
    "common/idempotency.py": ["tests/common/test_idempotency.py", "tests/api/test_idempotency.py"],
    "cards/sweeps.py": ["tests/cards/test_sweeps.py", "tests/cards/test_boundaries.py"],
    "cards/counter/scope.py": [
        "tests/cards/test_scope.py",
        "tests/admin/test_scope.py",
        "tests/cards/test_boundaries.py",
        "tests/cards/test_permissions.py",
    ],
    "cards/public/lookup.py": [
        "tests/status/test_lookup.py",
        "tests/status/test_answers.py",
        "tests/status/test_functions.py",
        "tests/status/test_privacy.py",
        "tests/status/test_guidance_texts.py",
        "tests/status/test_guidance_details.py",
    ],
    "cards/services.py": [
        "tests/cards/test_services.py",
        "tests/cards/test_boundaries.py",
        "tests/cards/test_deadlines.py",
        "tests/cards/test_permissions.py",
        "tests/cards/test_identity_proof.py",
        "tests/cards/test_locks.py",
        # The card's functions and services (fees, the financial function, the PIN, renewal).
        "tests/cards/test_replacement_reasons.py",
        "tests/cards/test_one_person_one_card.py",
        "tests/cards/test_fees.py",
        "tests/cards/test_financial.py",
        "tests/cards/test_pin.py",
        "tests/cards/test_rules.py",
    ],
    "cards/cardcenter.py": [
        "tests/cards/test_delivery_boundaries.py",
        "tests/cards/test_cardcenter.py",
        "tests/cards/test_delivery.py",
    ],
    "cards/rules.py": ["tests/cards/test_rules.py", "tests/cards/test_matrix.py"],
    "cards/delivery.py": [
        "tests/cards/test_delivery_boundaries.py",
        "tests/cards/test_delivery.py",
        "tests/cards/test_cardcenter.py",
    ],
}

TIMEOUT_SECONDS = 600


def mutation_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shebao")
    base, _, name = url.rpartition("/")
    return f"{base}/{name}_mutation"


def pytest_command(tests: list[str]) -> list[str]:
    return [
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


def tests_pass(tests: list[str]) -> bool | None:
    """True if the tests pass, False if one fails, None if they ran out of time."""
    try:
        result = subprocess.run(
            pytest_command(tests),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    return result.returncode == 0


def function_lines(source: str, names: list[str]) -> set[int]:
    """The (0-based) line numbers of the named functions and methods, decorators included."""
    import ast

    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines.update(range(first - 1, node.end_lineno))
    return lines


def mutants(path: Path) -> list[tuple[object, str]]:
    """(mutation id, mutated source) for every mutant mutmut makes of the file."""
    from mutmut import ALL, Context, list_mutations, mutate

    source = path.read_text()
    ids = list_mutations(Context(source=source, mutation_id=ALL, filename=str(path)))
    return [
        (
            mutation_id,
            mutate(Context(source=source, mutation_id=mutation_id, filename=str(path)))[0],
        )
        for mutation_id in ids
    ]


def run(
    module: str,
    *,
    only: set[int] | None = None,
    start: int = 1,
    functions: list[str] | None = None,
    every: int = 1,
) -> tuple[int, int, int, list[str]]:
    """Killed, run, total, and the survivors' diffs of one module (mutants numbered from 1 in
    mutmut's order; `only`, `start` and `functions` choose a subset)."""
    tests = MODULES[module]
    path = ROOT / module
    original = path.read_text()
    if not tests_pass(tests):
        raise SystemExit(f"{module}: its tests fail without any mutation: {' '.join(tests)}")
    found = mutants(path)
    chosen_lines = function_lines(original, functions) if functions else None
    suffix = "" if not (only or start > 1 or functions or every > 1) else ".partial"
    report = ROOT / "var" / "mutation" / (module.replace("/", ".") + suffix + ".txt")
    report.parent.mkdir(parents=True, exist_ok=True)
    killed, ran, survivors = 0, 0, []
    print(f"== {module}: {len(found)} mutants against {' '.join(tests)}", flush=True)
    with report.open("a" if suffix else "w") as out:
        for number, (mutation_id, mutated) in enumerate(found, 1):
            if only and number not in only:
                continue
            if number < start:
                continue
            if chosen_lines is not None and mutation_id.line_number not in chosen_lines:
                continue
            if (number - 1) % every:
                continue
            ran += 1
            try:
                path.write_text(mutated)
                passed = tests_pass(tests)
            finally:
                path.write_text(original)
            diff = "".join(
                difflib.unified_diff(
                    original.splitlines(keepends=True),
                    mutated.splitlines(keepends=True),
                    f"{module} (line {mutation_id.line_number + 1})",
                    f"mutant {number}",
                    n=0,
                )
            )
            status = "survived" if passed else ("timeout" if passed is None else "killed")
            killed += status != "survived"
            if status == "survived":
                survivors.append(diff)
            out.write(f"## mutant {number}: {status}\n{diff}\n")
            out.flush()
            print(f"{module} mutant {number}/{len(found)}: {status}", flush=True)
    print(f"{module}: killed {killed}/{ran} run of {len(found)}; survivors in {report}", flush=True)
    return killed, ran, len(found), survivors


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="core modules (default: all)")
    parser.add_argument("--from", dest="start", type=int, default=1, help="first mutant's number")
    parser.add_argument("--only", default="", help="comma-separated mutant numbers")
    parser.add_argument("--functions", default="", help="comma-separated function names")
    parser.add_argument("--every", type=int, default=1, help="a sample: mutants 1, 1+N, 1+2N...")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        print(f"not a core module: {' '.join(unknown)} (choose from {' '.join(MODULES)})")
        return 2
    os.environ["DATABASE_URL"] = mutation_database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    only = {int(n) for n in args.only.split(",") if n.strip()}
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    results = {
        module: run(
            module,
            only=only or None,
            start=args.start,
            functions=functions or None,
            every=args.every,
        )
        for module in modules
    }
    print("\nmodule: killed / run of all (survivors' diffs in var/mutation/)")
    for module, (killed, ran, total, _survivors) in results.items():
        print(f"{module}: {killed}/{ran} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
