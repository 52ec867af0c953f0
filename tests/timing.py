"""How tests that time the function bound what they measure.

A loaded 2-core machine can pause a process for a second or more (CI saw a job end 1.07 s past a 1 s limit), so a
test that times the function allows this much past the bound it checks, and makes the work being stopped take far
longer than the bound plus this slack, or proves the stop by the report's words: it still fails when a limit is
not applied, and never because the machine was busy. The function's margins themselves are checked without a clock
(TimeBudget's arithmetic, tests/unit/test_budget.py)."""

from typing import Final

SCHEDULING_SLACK_SECONDS: Final = 1.5
