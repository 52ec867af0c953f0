"""What a user can hand the command line: devices, sockets, FIFOs, pipes, huge files. Each ends in one line and
exit 2 within seconds, in bounded memory; nothing is read past the limits."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imagedefs.cli import PIPE_IDLE_SECONDS, PIPE_SECONDS
from tests.samples import image_detail

ROOT = Path(__file__).resolve().parents[2]
TASKDEF = str(ROOT / "events" / "describe-task-definition.json")
# The command runs, then prints its peak memory (VmHWM, kB) on stdout's last line.
RUN_AND_MEASURE = (
    "import sys\n"
    "from imagedefs.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(next(line for line in open('/proc/self/status') if line.startswith('VmHWM')).split()[1])\n"
    "sys.exit(code)\n"
)
MAX_PEAK_KB = 96 * 1024


@dataclass
class Run:
    exit_code: int
    stderr: str
    peak_kb: int
    seconds: float
    stdout: str


@pytest.fixture
def place() -> Iterator[Path]:
    # A short path: a UNIX socket's path must fit in 108 bytes, which a pytest tmp_path may not
    directory = Path(tempfile.mkdtemp(prefix="cli-", dir="/tmp"))
    (directory / "web").mkdir()
    (directory / "web" / "imageDetail.json").write_text(json.dumps(image_detail()))
    yield directory
    shutil.rmtree(directory)


def run(place: Path, *arguments: str, stdin: int | None = None) -> Run:
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", RUN_AND_MEASURE, *arguments],
        cwd=place,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        stdin=stdin,
        timeout=60,
    )
    *printed, peak = result.stdout.splitlines()
    return Run(result.returncode, result.stderr, int(peak), time.monotonic() - started, "\n".join(printed))


def assert_refused(result: Run, message: str) -> None:
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("imagedefs: error: ")
    assert message in result.stderr
    assert result.peak_kb <= MAX_PEAK_KB


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["web=/dev/zero"], 'Input "web" /dev/zero is a character device, not a file'),
        (["web=/dev/zero.zip"], "does not exist"),
        (["web/imageDetail.json", "--format", "codedeploy", "--taskdef", "/dev/zero"], "--taskdef /dev/zero is a "),
        (["web/imageDetail.json", "--format", "codedeploy", "--taskdef", "web"], "--taskdef web is a directory"),
    ],
)
def test_devices_and_directories_where_a_file_belongs_are_refused(
    place: Path, arguments: list[str], message: str
) -> None:
    assert_refused(run(place, *arguments), message)


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["web=/proc/self/mem"], 'Cannot read Input "web" /proc/self/mem: Input/output error.'),
        (["web=/proc/self/pagemap"], 'Cannot read Input "web" /proc/self/pagemap: Invalid argument.'),
        (["web=mem.zip"], 'Cannot read Input "web" mem.zip: '),
        (["web=pagemap.zip"], 'Cannot read Input "web" pagemap.zip: '),
        (["web=folder"], 'Cannot read Input "web" folder/imageDetail.json: Input/output error.'),
        (
            ["web/imageDetail.json", "--format", "codedeploy", "--taskdef", "/proc/self/mem"],
            "Cannot read --taskdef /proc/self/mem: Input/output error.",
        ),
    ],
)
def test_a_regular_file_that_fails_to_read_is_refused_naming_it(
    place: Path, arguments: list[str], message: str
) -> None:
    # Given regular files whose reads or seeks fail (EIO, EINVAL): as a file, as a .zip, inside a folder, as --taskdef
    (place / "mem.zip").symlink_to("/proc/self/mem")
    (place / "pagemap.zip").symlink_to("/proc/self/pagemap")
    (place / "folder").mkdir()
    (place / "folder" / "imageDetail.json").symlink_to("/proc/self/mem")
    # Then each is one line naming the input and why, exit 2, no traceback
    result = run(place, *arguments)
    assert_refused(result, message)
    assert "Traceback" not in result.stderr


def test_a_device_named_zip_is_refused(place: Path) -> None:
    (place / "zero.zip").symlink_to("/dev/zero")
    assert_refused(run(place, "web=zero.zip"), 'Input "web" zero.zip is a character device')


def test_a_unix_socket_is_refused(place: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(place / "sock"))
        listening.listen()
        assert_refused(run(place, "web=sock"), 'Input "web" sock is a socket, not a file')
        (place / "sock.zip").symlink_to(place / "sock")
        assert_refused(run(place, "web=sock.zip"), 'Input "web" sock.zip is a socket, not a file')


@pytest.mark.parametrize("name", ["big.json", "big.zip", "web2/imageDetail.json"])
def test_a_huge_sparse_file_is_refused_without_being_read(place: Path, name: str) -> None:
    # Given a 4 GB file (sparse: it takes no disk)
    (place / name).parent.mkdir(exist_ok=True)
    with (place / name).open("wb") as file:
        file.truncate(4 * 1024**3)
    result = run(place, f"web={name}")
    if name.endswith(".zip"):  # a zip is read by its directory at the end, which a file of zeros lacks
        assert result.exit_code == 1
        assert "is not a zip file" in result.stderr
        assert result.peak_kb <= MAX_PEAK_KB
    else:
        assert_refused(result, "is larger than 100 KB; an imageDetail.json or imagedefinitions.json is at most 100 KB.")


@pytest.mark.parametrize(
    "arguments",
    [
        ["web=fifo"],
        ["web=fifo.zip"],
        ["web/imageDetail.json", "--format", "codedeploy", "--taskdef", "fifo"],
        ["web=folder"],  # a folder whose imageDetail.json is a FIFO
    ],
)
def test_a_fifo_nobody_writes_to_ends_within_seconds(place: Path, arguments: list[str]) -> None:
    os.mkfifo(place / "fifo")
    os.mkfifo(place / "fifo.zip")
    (place / "folder").mkdir()
    os.mkfifo(place / "folder" / "imageDetail.json")
    result = run(place, *arguments)
    assert_refused(result, f"nothing was written to it for {PIPE_IDLE_SECONDS:.0f} s")
    assert result.seconds < PIPE_IDLE_SECONDS + 20  # generous: the interpreter's start on a busy machine


def test_a_pipe_that_trickles_forever_is_given_up_on(place: Path) -> None:
    # Given standard input a pipe that sends a space every half second, forever
    trickle = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nwhile True:\n    sys.stdout.write(' '); sys.stdout.flush(); time.sleep(0.5)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert trickle.stdout is not None
        result = run(place, "web=/dev/stdin", stdin=trickle.stdout.fileno())
    finally:
        trickle.kill()
        trickle.wait()
    assert_refused(result, f"was still sending after {PIPE_SECONDS:.0f} s")
    assert result.seconds < PIPE_SECONDS + 20


def test_a_pipe_that_trickles_a_document_and_ends_is_read(place: Path) -> None:
    # Given standard input a pipe that sends an imageDetail.json in pieces, then closes
    document = json.dumps(image_detail())
    pieces = [document[i : i + 100] for i in range(0, len(document), 100)]
    script = (
        f"import sys, time\nfor piece in {pieces!r}:\n    sys.stdout.write(piece); sys.stdout.flush(); time.sleep(0.2)"
    )
    trickle = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)  # noqa: S603
    try:
        assert trickle.stdout is not None
        result = run(place, "web=/dev/stdin", "--output", "out.json", stdin=trickle.stdout.fileno())
    finally:
        trickle.wait()
    assert result.exit_code == 0, result.stderr
    assert json.loads((place / "out.json").read_text())[0]["name"] == "web"


def test_a_pipe_longer_than_the_limit_is_refused_reading_one_byte_past_it(place: Path) -> None:
    # Given a pipe that would send zeros forever (cat /dev/zero |)
    zeros = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)  # noqa: S607
    try:
        assert zeros.stdout is not None
        result = run(place, "web=/dev/stdin", stdin=zeros.stdout.fileno())
    finally:
        zeros.kill()
        zeros.wait()
    assert_refused(result, 'Input "web" /dev/stdin is larger than 100 KB')
