"""Bad command lines of train.py and reproduce.py: exit status 2, one line on stderr naming the flag or path and what
is accepted, and nothing written. None of these needs TensorFlow (test_bad_data.py has the corrupt data files)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import sweep_helpers


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv,
        cwd=sweep_helpers.REPO,
        env=sweep_helpers.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_error_line(process: subprocess.CompletedProcess, program: str) -> str:
    assert process.returncode == 2, (process.returncode, process.stderr)
    assert "Traceback" not in process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: "), process.stderr
    return lines[0]


@pytest.mark.parametrize(
    "program, flags, expected",
    [
        (
            "train.py",
            ["--model=deep_mlp", "--noise_eta=abc"],
            "flag --noise_eta=abc: could not convert string to float: 'abc'. --noise_eta takes a number: Noise "
            "variance scale",
        ),
        (
            "train.py",
            ["--model=deep_mlp", "--epoch=3"],
            "Unknown command line flag 'epoch'. Did you mean: epochs? Accepted flags: --batch_size, ",
        ),
        ("train.py", ["--model=deep_mlp", "--bogus"], "Unknown command line flag 'bogus'. Accepted flags: "),
        (
            "train.py",
            ["--model=deep_mlp", "--epochs"],
            "Missing value for flag --epochs. --epochs takes an integer",
        ),
        (
            "train.py",
            ["--model=deep_mlp", "--resume=maybe"],
            "--resume takes true or false (or --resume / --noresume without a value)",
        ),
        ("reproduce.py", ["--model=deep_mlp", "--jobs=two"], "flag --jobs=two: invalid literal for int()"),
        (
            "reproduce.py",
            ["--model=deep_mlp", "--restart=3"],
            "Did you mean: restarts? Accepted flags: --batch_size",
        ),
    ],
)
def test_flag_syntax_errors_exit_2_with_one_line(tmp_path, program, flags, expected):
    workdir = tmp_path / "run"
    target = (
        [f"--workdir={workdir}"] if program == "train.py" else [f"--runs_dir={workdir}", f"--out={workdir}"]
    )
    process = _run([sys.executable, os.path.join(sweep_helpers.REPO, program), *target, *flags])
    line = _one_error_line(process, program)
    assert expected in line, line
    if "Accepted flags" in line:
        assert ("--workdir" if program == "train.py" else "--runs_dir") in line
        assert "--verbosity" not in line  # absl's own flags are not the program's
    assert not workdir.exists()


def test_a_workdir_that_is_a_file_exits_2_and_leaves_the_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    for workdir, expected in (
        (path, f"--workdir '{path}' is a file; it must be a directory"),
        (path / "run", f"--workdir '{path / 'run'}' cannot be created: '{path}' is a file, not a directory."),
    ):
        process = _run(
            [
                sys.executable,
                os.path.join(sweep_helpers.REPO, "train.py"),
                "--model=deep_mlp",
                f"--workdir={workdir}",
            ]
        )
        line = _one_error_line(process, "train.py")
        assert expected in line, line
    assert path.read_text() == "keep me"


@pytest.mark.parametrize("flag", ["out", "runs_dir"])
def test_reproduce_refuses_an_output_path_that_is_a_file_before_running_anything(tmp_path, flag):
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    paths = {"out": tmp_path / "report", "runs_dir": tmp_path / "runs", flag: path}
    process = _run(
        sweep_helpers.reproduce_command(
            f"--model={sweep_helpers.NAME}",
            f"--trainer={sweep_helpers.TRAINER}",
            "--restarts=1",
            *(f"--{name}={value}" for name, value in paths.items()),
        )
    )
    line = _one_error_line(process, "reproduce.py")
    assert f"--{flag} '{path}' is a file; it must be a directory" in line
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"] and path.read_text() == "keep me"


def test_reproduce_refuses_a_trainer_it_cannot_import(tmp_path):
    process = _run(
        sweep_helpers.reproduce_command(
            f"--model={sweep_helpers.NAME}",
            "--trainer=no_such_module:train",
            f"--runs_dir={tmp_path / 'runs'}",
        )
    )
    line = _one_error_line(process, "reproduce.py")
    assert "--trainer 'no_such_module:train': no module 'no_such_module' can be imported." in line
    assert not os.listdir(tmp_path)
