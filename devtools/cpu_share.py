"""Lambda's CPU share, emulated with a cgroup v1 `cpu` quota: memory/1769 of one CPU, as Lambda allots it.

Lambda gives a function CPU in proportion to its memory: 1,769 MB is one full vCPU. A child group of the
`cpu` controller with cfs_quota_us = period x memory/1769 (at most the machine's cores) lets a process run
that long in each period, then throttles it. The measured process joins the group before it starts: it is
launched through `sh`, which writes its own pid to the group's `tasks` and then execs the command.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Self

CPU_CONTROLLER = Path("/sys/fs/cgroup/cpu")
MEMORY_OF_ONE_VCPU_MB = 1769
PERIOD_US = 100_000
# "$0" is the group's tasks file, "$@" the command: sh puts itself in the group, then becomes the command.
JOIN_THEN_EXEC = 'echo $$ > "$0" && exec "$@"'


def quota_us(memory_mb: int, cores: int) -> int:
    return min(PERIOD_US * memory_mb // MEMORY_OF_ONE_VCPU_MB, PERIOD_US * cores)


def unavailable_reason() -> str | None:
    """Why this machine cannot emulate the share (None when it can): a child group must be writable."""
    if not (CPU_CONTROLLER / "cpu.cfs_quota_us").exists():
        return f"no cgroup v1 cpu controller at {CPU_CONTROLLER}"
    try:
        with CpuShare(128):
            return None
    except OSError as error:
        return f"cannot create a cpu cgroup under {CPU_CONTROLLER}: {error}"


class CpuShare:
    """A cpu cgroup with the share of a function of `memory_mb`; removed on exit, whatever happened."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.quota_us = quota_us(memory_mb, os.cpu_count() or 1)
        self.group = CPU_CONTROLLER / f"imagedefs-bench-{os.getpid()}-{memory_mb}mb"

    def __enter__(self) -> Self:
        self.group.mkdir()
        try:
            (self.group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.group / "cpu.cfs_quota_us").write_text(str(self.quota_us))
        except BaseException:
            self.group.rmdir()
            raise
        return self

    def command(self, command: list[str]) -> list[str]:
        """`command`, run inside the group from its first instruction."""
        return ["/bin/sh", "-c", JOIN_THEN_EXEC, str(self.group / "tasks"), *command]

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        # Every process run in the group has exited by now (the bench waits for each), so it is empty.
        self.group.rmdir()
