import os
import re
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from augreid.core.errors import InputError
from augreid.core.output import check_output, check_output_file, lock_path, output_lock
from tests.tools.forked_cli import run_module

REPO = Path(__file__).parents[1]


def hold_lock(out: Path) -> subprocess.Popen:
    """Another run holding `out`'s lock until killed."""
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from augreid.core.output import output_lock\n"
                               "with output_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)",
                               str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_on_one_output_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "run"
    holder = hold_lock(out)
    try:
        with pytest.raises(InputError, match=rf"run: in use by another run \(pid {holder.pid} on .*, since .*\)"):
            with output_lock(out):
                pass
        assert lock_path(out).read_text().startswith(f"pid {holder.pid} ")  # the refused run did not wipe it
    finally:
        holder.send_signal(signal.SIGKILL)  # the kernel releases a dead holder's lock
        holder.wait()
        holder.stdout.close()
    with output_lock(out):  # free again, though the dead run's lock file is still there
        assert re.fullmatch(rf"pid {os.getpid()} on {re.escape(socket.gethostname())}, since "
                            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: .+\n", lock_path(out).read_text())
    assert not lock_path(out).exists()  # removed by the run that held it last


def test_a_lock_where_no_file_can_be_created_is_refused_as_such_not_as_in_use():
    with pytest.raises(InputError, match=r"^/proc/x: cannot write there \(/proc: "):
        with output_lock("/proc/x"):
            pass


def test_one_process_releases_the_lock_after_an_error(tmp_path):
    with pytest.raises(RuntimeError):
        with output_lock(tmp_path / "run"):
            raise RuntimeError("failed mid-run")
    with output_lock(tmp_path / "run"):
        pass


def test_outputs_are_checked_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match=r"file: exists and is not a folder"):
        check_output(tmp_path / "file")
    with pytest.raises(InputError, match=r"below: cannot be created, .*file is a file"):
        check_output(tmp_path / "file" / "below")
    with pytest.raises(InputError, match=r"data/sub: the output must not be the data set \(.*data\) or inside it"):
        check_output(tmp_path / "data" / "sub", tmp_path / "data")
    with pytest.raises(InputError, match=r"folder: is a folder, expected a file name"):
        (tmp_path / "folder").mkdir()
        check_output_file(tmp_path / "folder")
    assert check_output(tmp_path / "new" / "deep", tmp_path / "data") == tmp_path / "new" / "deep"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: a read-only folder cannot be tested as root")
def test_an_output_in_a_read_only_folder_is_refused(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(InputError, match=r"ro/out: cannot write there \(.*ro: Permission denied\)"):
        check_output(tmp_path / "ro" / "out")


def test_an_output_where_no_file_can_be_created_is_refused_even_for_root(tmp_path):
    with pytest.raises(InputError, match=r"^/proc/x: cannot write there \(/proc: "):
        check_output("/proc/x")
    with pytest.raises(InputError, match=r"^/proc/pairs.csv: cannot write there \(/proc: "):
        check_output_file("/proc/pairs.csv")


def test_cli_refuses_an_output_that_is_a_file_with_exit_2(tmp_path, small_synthetic):
    (tmp_path / "file").write_text("")
    commands = {
        "augreid.synthetic": ["--out", str(tmp_path / "file")],
        "augreid.generate": ["--portion", "0.5", "--generator", "none", "--data-root", str(small_synthetic),
                             "--out", str(tmp_path / "file")],
        "augreid.pairs": ["--annotations", str(small_synthetic / "market-annotation-train.csv"),
                          "--out", str(tmp_path)],
    }
    for module, args in commands.items():
        result = run_module(module, *args, cwd=REPO)
        assert result.returncode == 2, (module, result.stderr)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (module, result.stderr)


def test_finished_files_and_folders_are_as_readable_as_any_new_one(tmp_path):
    """A results folder shared by a team: mkstemp's private 0600 must not survive the rename."""
    from augreid.core.atomic import atomic_directory, atomic_write_text

    atomic_write_text(tmp_path / "metrics.json", "{}\n")
    with atomic_directory(tmp_path / "set") as folder:
        (folder / "a").write_text("a")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "set").stat().st_mode) == 0o777 & ~umask
