"""The `officeplan` command: solve, validate, template.  A thin shell over `optimizer.pipeline`.

Exit status: 0 a plan (optimal or feasible), 1 no plan (infeasible), 2 bad input or an
output path that cannot be written, 3 the solver failed, 130 interrupted.  No traceback reaches the user unless --debug.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from .errors import InputError
from .pipeline import solve_workbook
from .plan import Plan
from .workbook import read_problem, write_template

EXIT_PLAN, EXIT_NO_PLAN, EXIT_BAD_INPUT, EXIT_SOLVER, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_EXIT_BY_STATUS = {"optimal": EXIT_PLAN, "feasible": EXIT_PLAN, "infeasible": EXIT_NO_PLAN, "error": EXIT_SOLVER}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="officeplan", description="Plan a network of public service offices.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    commands = parser.add_subparsers(dest="command", required=True)
    solve = commands.add_parser("solve", help="solve an input workbook and write the plan workbook")
    solve.add_argument("input", type=Path, help="input workbook (.xlsx)")
    solve.add_argument("-o", "--output", type=Path, help="plan workbook to write (default: INPUT_plan.xlsx)")
    solve.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    solve.add_argument("--verbose", action="store_true", help="report the time of each stage on stderr")
    validate = commands.add_parser("validate", help="check an input workbook without solving")
    validate.add_argument("input", type=Path)
    template = commands.add_parser("template", help="write a blank input workbook")
    template.add_argument("path", type=Path)
    return parser


def _number(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def result_json(plan: Plan) -> dict[str, Any]:
    """The machine-readable result; figures are null where there is no plan."""
    f = plan.figures
    sites = []
    if len(plan.sites):
        staff_columns = [c for c in plan.sites.columns if c.startswith("staff ")]
        for row in plan.sites.to_dict("records"):
            sites.append(
                {
                    "site_id": row["site_id"],
                    "action": row["action"],
                    "merged_into": row["merged_into"],
                    "agencies": [a for a in row["agencies_after"].split(", ") if a],
                    "staff": {c.removeprefix("staff "): row[c] for c in staff_columns if row[c]},
                }
            )
    return {
        "status": plan.status,
        "message": plan.message,
        "objective": f.get("objective"),
        "annual_cost": f.get("annual cost"),
        "one_off_cost": f.get("one-off cost"),
        "travel_cost": f.get("travel cost"),
        "covered_visits": f.get("visits: covered"),
        "total_visits": f.get("visits: total"),
        "mip_gap": _number(plan.solution.mip_gap),
        "offices_open": f.get("offices operating"),
        "diagnosis": list(plan.solution.diagnosis),
        "timings_s": plan.timings,
        "sites": sites,
    }


def _format(name: str, value: Any) -> str:
    """Shares as percentages, small fractional figures with two decimals, the rest in whole units."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if "(share)" in name:
        return f"{value:.1%}"
    if value != int(value) and abs(value) < 1000:
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def summary_text(plan: Plan) -> str:
    """The figures a person reads first, next to today's where today's network could be priced."""
    lines = [f"status: {plan.status}", plan.message]
    if plan.figures:
        today = plan.today or {}
        width = max(len(k) for k in plan.figures)
        lines.append(f"{'':{width}}  {'plan':>16}  {'today':>16}")
        for name, value in plan.figures.items():
            before = _format(name, today[name]) if name in today else ""
            lines.append(f"{name:{width}}  {_format(name, value):>16}  {before:>16}")
    lines.append(plan.today_message)
    return "\n".join(lines)


def _solve(args: argparse.Namespace) -> int:
    output = args.output or args.input.with_name(args.input.stem + "_plan.xlsx")
    folder = output.resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        # Checked before solving: a long solve must not end in a plan that cannot be saved.
        print(f"officeplan: cannot write {output}: the folder {folder} does not exist or is not writable",
              file=sys.stderr)
        return EXIT_BAD_INPUT

    def on_stage(name: str, seconds: float) -> None:
        if args.verbose:
            print(f"[{name}] {seconds:.2f} s", file=sys.stderr)

    problem, plan = solve_workbook(args.input, output, on_stage)
    print(summary_text(plan), file=sys.stderr if args.json else sys.stdout)
    print(f"plan written to {output}", file=sys.stderr)
    if args.json:
        print(json.dumps(result_json(plan), default=float))
    return _EXIT_BY_STATUS[plan.status]


def _validate(args: argparse.Namespace) -> int:
    problem = read_problem(args.input)
    print(
        f"{args.input}: OK ({len(problem.areas)} areas, {len(problem.sites)} sites, "
        f"{len(problem.agencies)} agencies)"
    )
    return EXIT_PLAN


def _template(args: argparse.Namespace) -> int:
    write_template(args.path)
    print(f"template written to {args.path}")
    return EXIT_PLAN


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = {"solve": _solve, "validate": _validate, "template": _template}[args.command]
    try:
        return command(args)
    except InputError as error:
        print(error.report(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; no output was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:  # e.g. the output folder does not exist or is not writable
        print(f"officeplan: cannot write {error.filename}: {error.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # the user gets a sentence, not a traceback
        if args.debug:
            raise
        print(f"officeplan failed unexpectedly: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_SOLVER
