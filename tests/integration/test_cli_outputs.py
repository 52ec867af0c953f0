"""Where a user can point the command line's --output: devices, FIFOs, sockets, a standard output closed early.
None is ever replaced by a plain file, even as root; each refusal is one line and exit 2, within seconds."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagedefs.cli import PIPE_IDLE_SECONDS
from tests.samples import REGISTRY, image_detail

ROOT = Path(__file__).resolve().parents[2]
NULL_DEVICE = os.makedev(1, 3)
FULL_DEVICE = os.makedev(1, 7)
# Major 0 is no block driver: the node can never reach a disk, should a defect open it.
NO_DISK = os.makedev(0, 0)


@pytest.fixture
def place() -> Iterator[Path]:
    # A short path: a UNIX socket's path must fit in 108 bytes, which a pytest tmp_path may not
    directory = Path(tempfile.mkdtemp(prefix="cli-out-", dir="/tmp"))
    (directory / "web").mkdir()
    (directory / "web" / "imageDetail.json").write_text(json.dumps(image_detail()))
    yield directory
    shutil.rmtree(directory)


def run(place: Path, *arguments: str, stdout: int = subprocess.PIPE) -> tuple[int, str, float]:
    """The command in its own process: exit code, standard output and error together, seconds taken."""
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-m", "imagedefs", *arguments],
        cwd=place,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ.get("PATH", "")},
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout == subprocess.PIPE else subprocess.PIPE,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout if stdout == subprocess.PIPE else result.stderr, time.monotonic() - started


def make_node(path: Path, kind: int, device: int) -> None:
    try:
        os.mknod(path, kind | 0o666, device)
    except PermissionError:
        pytest.skip("making device nodes needs root (CAP_MKNOD)")


@pytest.mark.parametrize(
    ("device", "exit_code", "error"),
    [
        (NULL_DEVICE, 0, ""),
        (FULL_DEVICE, 2, "imagedefs: error: Cannot write {name}: No space left on device.\n"),
    ],
    ids=["/dev/null", "/dev/full"],
)
@pytest.mark.parametrize("name", ["device", "link-to-device"])
def test_a_character_device_is_written_into_never_replaced(
    place: Path, device: int, exit_code: int, error: str, name: str
) -> None:
    # Given a copy of /dev/null or /dev/full, named directly or through a symbolic link (the command runs as root)
    make_node(place / "device", stat.S_IFCHR, device)
    (place / "link-to-device").symlink_to(place / "device")

    # When the command writes its output there
    code, stderr, _ = run(place, "web", "--output", name)

    # Then it wrote into the device (which /dev/full refuses, in one line), and the device is still that device
    assert (code, stderr.replace("Wrote link-to-device", "Wrote device")) == (
        exit_code,
        error.format(name=name) or f"Wrote device: web → {REGISTRY}/shop/web:latest\n",
    )
    assert stat.S_ISCHR((place / "device").stat().st_mode)
    assert (place / "device").stat().st_rdev == device
    assert (place / "link-to-device").is_symlink()
    assert sorted(path.name for path in place.iterdir()) == ["device", "link-to-device", "web"]


@pytest.mark.parametrize(
    ("kind", "message"),
    [("block", "it is a block device"), ("socket", "it is a socket")],
)
def test_a_block_device_or_a_socket_is_refused(place: Path, kind: str, message: str) -> None:
    target = place / kind
    listening = socket.socket(socket.AF_UNIX)
    try:
        if kind == "block":
            make_node(target, stat.S_IFBLK, NO_DISK)
        else:
            listening.bind(str(target))
        before = target.lstat()

        code, stderr, _ = run(place, "web", "--output", kind)
    finally:
        listening.close()

    assert code == 2
    assert (
        stderr == f"imagedefs: error: Cannot write {kind}: {message}, which imagedefs never writes to; give a file.\n"
    )
    assert (target.lstat().st_mode, target.lstat().st_ino) == (before.st_mode, before.st_ino)


def test_a_fifo_with_a_reader_gets_the_file(place: Path) -> None:
    # Given a FIFO that a reader opens (as `cat fifo` would)
    os.mkfifo(place / "fifo")
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append((place / "fifo").read_bytes()))
    reader.start()

    # When the command writes its output there
    code, stderr, _ = run(place, "web", "--output", "fifo")
    reader.join(timeout=30)

    # Then the reader got the file, and the FIFO is still a FIFO
    assert (code, stderr) == (0, f"Wrote fifo: web → {REGISTRY}/shop/web:latest\n")
    assert json.loads(received[0]) == [{"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"}]
    assert stat.S_ISFIFO((place / "fifo").stat().st_mode)


def test_a_fifo_nobody_opens_ends_within_seconds(place: Path) -> None:
    os.mkfifo(place / "fifo")

    code, stderr, seconds = run(place, "web", "--output", "fifo")

    assert code == 2
    assert stderr == (
        f"imagedefs: error: Cannot write fifo: nobody opened the FIFO for reading within {PIPE_IDLE_SECONDS:.0f} s; "
        "start the command that reads it first.\n"
    )
    assert seconds < PIPE_IDLE_SECONDS + 20  # generous: the interpreter's start on a busy machine
    assert stat.S_ISFIFO((place / "fifo").stat().st_mode)


def test_a_fifo_whose_reader_never_reads_ends_within_seconds(place: Path) -> None:
    # Given an output larger than a pipe holds (78 KB; a pipe holds 64), and a FIFO a reader opens but never reads
    images = [arg for index in range(1000) for arg in ("--image", f"container-{index:04d}=ghcr.io/acme/app:{index}")]
    os.mkfifo(place / "fifo")
    descriptor = os.open(place / "fifo", os.O_RDONLY | os.O_NONBLOCK)
    try:
        code, stderr, seconds = run(place, *images, "--output", "fifo")
    finally:
        os.close(descriptor)

    assert code == 2
    assert stderr == f"imagedefs: error: Cannot write fifo: nothing was read from it for {PIPE_IDLE_SECONDS:.0f} s.\n"
    assert seconds < PIPE_IDLE_SECONDS + 20


def test_a_standard_output_closed_before_the_write_is_one_line(place: Path) -> None:
    # Given a standard output whose reader is gone (`imagedefs ... --output - | true`, the reader already done)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        code, stderr, _ = run(place, "web", "--output", "-", stdout=write_end)
    finally:
        os.close(write_end)

    assert code == 2
    assert stderr == (
        "imagedefs: error: Cannot write imagedefinitions.json to standard output: the reader closed the pipe before "
        "all was written.\n"
    )


def test_dev_stdout_is_standard_output_and_the_summary_goes_to_standard_error(place: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "imagedefs", "web", "--output", "/dev/stdout"],
        cwd=place,
        env={"PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0
    assert json.loads(result.stdout) == [{"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"}]
    assert result.stderr == f"Wrote /dev/stdout: web → {REGISTRY}/shop/web:latest\n"
    assert stat.S_ISLNK(Path("/dev/stdout").lstat().st_mode)


@pytest.mark.parametrize(("output", "exit_code"), [("-", 2), ("out.json", 0)])
def test_a_closed_standard_output_is_one_line_for_dash_and_no_matter_otherwise(
    place: Path, output: str, exit_code: int
) -> None:
    # Given the command started with its standard output closed (`>&-`)
    result = subprocess.run(  # noqa: S603 - our own interpreter and code, through sh to close the descriptor
        ["/bin/sh", "-c", f'exec "$0" -m imagedefs web --output {output} >&-', sys.executable],
        cwd=place,
        env={"PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then - is one line saying so, and a file is written as ever
    assert result.returncode == exit_code
    assert result.stderr == (
        "imagedefs: error: Cannot write imagedefinitions.json to standard output: standard output is closed "
        "(started with >&-).\n"
        if output == "-"
        else ""
    )
    assert (place / "out.json").exists() == (output == "out.json")
