"""CPU seconds per process of a command's process tree (crawl, extraction workers, matcher).

    python bench/cpu_split.py [--every 0.1] -- watchdesk crawl --event bench-n1000 ...

`/usr/bin/time` gives one total for a crawl and its worker processes; this polls
`/proc/<pid>/stat` of the command and every descendant and prints, per process, when it was
first seen and the CPU (user + system) it had used when last seen, so a worker that exits
before the command loses at most one polling interval. Linux only. The polling runs in this
process, outside the measured tree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _children(root: int) -> set[int]:
    """`root` and its descendants now running."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    tree = {root}
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return tree


def _sample(pid: int) -> tuple[float, str] | None:
    """(CPU seconds, role) of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        libraries = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS, _role(command, libraries)


def _role(command: str, libraries: str) -> str:
    """A child's job, told by what it has loaded: the matcher maps numpy's BLAS, an
    extraction worker lxml but no BLAS (a worker still starting shows as "spawned")."""
    if "resource_tracker" in command:
        return "tracker"
    if "spawn_main" not in command and "forkserver" not in command:
        return command.split(" ", 1)[0].rsplit("/", 1)[-1][:10] or "?"
    if "openblas" in libraries or "numpy" in libraries:
        return "matcher"
    return "extraction" if "etree" in libraries else "spawned"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=0.1, help="polling interval, seconds")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    seen: dict[int, tuple[float, float, str]] = {}  # pid -> (first seen, CPU, role)
    polls = 0
    while process.poll() is None:
        polls += 1
        for pid in _children(process.pid):
            sample = _sample(pid)
            if sample is not None:
                first, _, role = seen.get(pid, (time.monotonic() - start, 0.0, "?"))
                cpu, now = sample
                # A process exiting has no command line left: keep the role it had.
                seen[pid] = (first, cpu, role if now == "?" else now)
        time.sleep(args.every)
    wall = time.monotonic() - start
    for pid, (first, cpu, role) in sorted(seen.items(), key=lambda kv: kv[1][0]):
        role = "command" if pid == process.pid else role
        print(f"{role:10s} pid {pid:7d}  from {first:5.2f} s  cpu {cpu:6.2f} s")
    total = sum(cpu for _, cpu, _ in seen.values())
    print(f"wall {wall:.2f} s, cpu {total:.2f} s in {len(seen)} processes ({polls} polls)")
    sys.exit(process.returncode)


if __name__ == "__main__":
    main()
