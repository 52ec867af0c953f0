"""The command line: same options and messages as the action, exit codes 0 / 1 / 2, no boto3."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devtools.local_aws import zip_files
from imagedefs.cli import CLI_WORDING, _configuration, _parser, main
from imagedefs.config import USER_PARAMETER_KEYS, Settings, config_from_mapping, parse_user_parameters
from tests.samples import REGISTRY, described_task_definition, image_detail

ROOT = Path(__file__).resolve().parents[2]
TASKDEF = str(ROOT / "events" / "describe-task-definition.json")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMAGEDEFS_ALLOWED_REGISTRIES", raising=False)
    (tmp_path / "WebImage").mkdir()
    (tmp_path / "WebImage" / "imageDetail.json").write_text(json.dumps(image_detail(tags=["latest", "v2"])))
    (tmp_path / "ApiImage.zip").write_bytes(zip_files({"imageDetail.json": image_detail("shop/api")}))
    return tmp_path


def test_folders_and_zips_make_an_imagedefinitions_json(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = main(["WebImage", "ApiImage.zip", "--container", "WebImage=web", "--container", "ApiImage=api"])

    assert exit_code == 0
    assert json.loads((workdir / "imagedefinitions.json").read_text()) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"},
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api:latest"},
    ]
    assert capsys.readouterr().out.startswith("Wrote imagedefinitions.json: web → ")


def test_options_are_the_user_parameters(workdir: Path) -> None:
    exit_code = main(
        ["web=WebImage/imageDetail.json", "--tag", "v.*", "--format", "imagedetail", "--output", "out/detail.json"]
    )

    assert exit_code == 0
    assert json.loads((workdir / "out" / "detail.json").read_text()) == {"ImageURI": f"{REGISTRY}/shop/web:v2"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["WebImage", "--containers", "{"], "--containers is not valid JSON"),
        (["WebImage", "--containers", '{"Nope": "web"}'], '"Nope", which is not an input artifact'),
        (["WebImage", "--containers", "[]", "--container", "WebImage=web"], "--containers, which must then be a JSON"),
        (["WebImage", "--container", "web"], '--container "web" must be ARTIFACT=NAME'),
        (["WebImage", "--container", "WebImage=web", "--container", "WebImage=api"], 'names artifact "WebImage" twice'),
        (["WebImage", "--containers", '{"WebImage": "a", "WebImage": "b"}'], 'key "WebImage" appears more than once'),
        (["WebImage", "--container", "WebImage=web,web"], '--container names container "web" for both'),
        (["WebImage", "--container", "Nope=web"], '--container names "Nope", which is not an input artifact'),
        (["WebImage", "--file", "../x.json"], '--file is "../x.json"'),
        (["missing-folder"], "Input missing-folder does not exist."),
        (["web=missing.zip"], 'Input "web": missing.zip does not exist.'),
        (
            ["WebImage", "--allowed-registries", "not a host"],
            '--allowed-registries (or the environment variable IMAGEDEFS_ALLOWED_REGISTRIES) holds "not a host"',
        ),
        (["WebImage", "--format", "codedeploy"], "--format codedeploy needs --taskdef FILE"),
        (["WebImage", "--taskdef", "td.json"], "--taskdef applies to --format codedeploy only."),
        (["WebImage", "--format", "codedeploy", "--taskdef", "none.json"], "Cannot read --taskdef none.json: No such"),
        (["WebImage", "--format", "codedeploy", "--taskdef", TASKDEF], "has 2 containers that map a port"),
        (
            ["WebImage", "--format", "codedeploy", "--taskdef", TASKDEF, "--lb-container", "log-router"],
            'Container "log-router" in ' + TASKDEF + " maps 0 ports (none); say which one the load balancer sends "
            "traffic to with --lb-port.",
        ),
        (
            ["WebImage", "--format", "codedeploy", "--taskdef", TASKDEF, "--lb-container", "web", "--file", "x.json"],
            '--file does not apply to format "codedeploy"',
        ),
        (
            [
                "WebImage",
                "--container",
                "WebImage=frontend",
                "--format",
                "codedeploy",
                "--taskdef",
                TASKDEF,
                "--lb-container",
                "web",
            ],
            "which the task definition in " + TASKDEF + ' does not have. Its containers are "web", "api", '
            '"log-router": name those with --container.',
        ),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main(arguments) == 2
    assert message in capsys.readouterr().err
    assert not (workdir / "imagedefinitions.json").exists()


def test_codedeploy_writes_taskdef_and_appspec_from_a_task_definition_file(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the service's task definition as `aws ecs describe-task-definition --include TAGS` printed it
    arguments = ["WebImage", "--container", "WebImage=web", "--format", "codedeploy", "--taskdef", TASKDEF]

    # When the command line renders the blue/green files, the load balancer target named by flags
    exit_code = main([*arguments, "--lb-container", "web", "--lb-port", "8080", "--output", "deploy"])

    # Then both files are in the folder: the task definition as RegisterTaskDefinition input, web's image set
    assert exit_code == 0
    described = described_task_definition()
    taskdef = json.loads((workdir / "deploy" / "taskdef.json").read_text())
    assert taskdef["containerDefinitions"][0]["image"] == f"{REGISTRY}/shop/web:latest"
    assert taskdef["containerDefinitions"][1:] == described["taskDefinition"]["containerDefinitions"][1:]
    assert (taskdef["family"], taskdef["tags"]) == ("shop", described["tags"])
    assert "taskDefinitionArn" not in taskdef
    appspec = yaml.safe_load((workdir / "deploy" / "appspec.yaml").read_text())
    assert appspec["Resources"][0]["TargetService"]["Properties"] == {
        "TaskDefinition": "<TASK_DEFINITION>",
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
    }
    assert capsys.readouterr().out.startswith("Wrote deploy/taskdef.json, deploy/appspec.yaml: web → ")


def test_argparse_usage_errors_exit_2(workdir: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["WebImage", "--pin", "sha"])
    assert raised.value.code == 2


@pytest.mark.parametrize("port", ["0", "-1", "70000", "8_0", " 80", "99999999999999999999", "\u0668\u0660"])
def test_lb_port_takes_port_numbers_only(workdir: Path, capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["WebImage", "--format", "codedeploy", "--taskdef", TASKDEF, "--lb-container", "web", "--lb-port", port])
    assert raised.value.code == 2
    assert f"--lb-port: {port!r} is not a port number (1-65535)" in capsys.readouterr().err


def test_lb_port_must_be_a_port_the_container_maps(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["WebImage", "--format", "codedeploy", "--taskdef", TASKDEF, "--lb-container", "web"]

    assert main([*arguments, "--lb-port", "1"]) == 2

    assert '--lb-port is 1, which container "web" in ' in capsys.readouterr().err
    assert not (workdir / "appspec.yaml").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({**image_detail(), "ImageURI": f"{REGISTRY}/shop/web:latest"}, 'field "ImageURI"'),
        ("{", "not valid JSON"),
    ],
)
def test_bad_content_exits_1_with_the_actions_message(
    workdir: Path, capsys: pytest.CaptureFixture[str], content: object, message: str
) -> None:
    detail = workdir / "WebImage" / "imageDetail.json"
    detail.write_text(content if isinstance(content, str) else json.dumps(content))

    assert main(["WebImage"]) == 1

    error = capsys.readouterr().err
    assert error.startswith('imagedefs: error: Artifact "WebImage", file WebImage/imageDetail.json: ')
    assert message in error


def test_registry_outside_the_allow_list_is_bad_content(workdir: Path) -> None:
    assert main(["WebImage", "--allowed-registries", "ghcr.io"]) == 1


@pytest.mark.parametrize(
    "arguments",
    [
        ["WebImage"],
        ["WebImage", "ApiImage.zip", "--outputs", '{"A": ["web"], "B": ["api"]}', "--output", "o"],
        ["WebImage", "--format", "codedeploy", "--taskdef", TASKDEF, "--lb-container", "web", "--output", "o"],
        ["--image", "web=ghcr.io/a/web:1", "--output", "-"],
    ],
)
def test_the_command_line_never_imports_boto3(workdir: Path, arguments: list[str]) -> None:
    check = (
        f"import sys; from imagedefs.cli import main; code = main({arguments!r}); "
        "sys.exit(code or any(name.split('.')[0] in ('boto3', 'botocore') for name in sys.modules))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", check], cwd=workdir, env={"PYTHONPATH": str(ROOT / "src")}, capture_output=True
    )
    assert result.returncode == 0, result.stderr


def test_python_dash_m_runs_it(workdir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "imagedefs", "--help"], env={"PYTHONPATH": str(ROOT / "src")}, capture_output=True
    )
    assert result.returncode == 0
    assert b"Exit codes: 0 written, 1 bad input content, 2 usage or configuration error" in result.stdout


@pytest.mark.parametrize("output", ["out", "new/"])
def test_an_output_folder_gets_the_default_file_name(workdir: Path, output: str) -> None:
    (workdir / "out").mkdir()

    assert main(["WebImage", "--output", output]) == 0

    assert json.loads((workdir / output / "imagedefinitions.json").read_text())[0]["name"] == "web"


def test_an_output_that_cannot_be_created_exits_2_in_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "taken").write_text("a file, not a folder")

    assert main(["WebImage", "--output", "taken/imagedefinitions.json"]) == 2

    error = capsys.readouterr().err
    assert error.startswith("imagedefs: error: Cannot write taken/imagedefinitions.json: ")
    assert error.count("\n") == 1
    assert "Traceback" not in error


def test_a_failed_write_leaves_no_temporary_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a folder where the output's name is taken by a folder: the rename fails after the write
    (workdir / "out" / "imagedefinitions.json").mkdir(parents=True)

    assert main(["WebImage", "--output", "out"]) == 2

    assert capsys.readouterr().err.startswith(
        "imagedefs: error: Cannot write out/imagedefinitions.json: Is a directory"
    )
    assert [path.name for path in (workdir / "out").iterdir()] == ["imagedefinitions.json"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_the_output_file_mode_follows_the_umask(workdir: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        assert main(["WebImage"]) == 0
    finally:
        os.umask(previous)

    assert (workdir / "imagedefinitions.json").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize(
    "inputs",
    [["WebImage=WebImage", "WebImage=ApiImage.zip"], ["WebImage", "WebImage/imageDetail.json"]],
)
def test_two_inputs_of_one_artifact_name_exit_2_naming_it(
    workdir: Path, capsys: pytest.CaptureFixture[str], inputs: list[str]
) -> None:
    assert main(inputs) == 2

    assert 'are both artifact "WebImage"; name each one with ARTIFACT=PATH.' in capsys.readouterr().err
    assert not (workdir / "imagedefinitions.json").exists()


def test_a_missing_input_is_not_named_after_the_current_folder(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["nope"]) == 2

    assert capsys.readouterr().err == "imagedefs: error: Input nope does not exist.\n"


def test_one_image_for_several_containers(workdir: Path) -> None:
    assert main(["WebImage", "--container", "WebImage=web,worker", "--output", "out.json"]) == 0
    assert [entry["name"] for entry in json.loads((workdir / "out.json").read_text())] == ["web", "worker"]


def test_what_the_command_line_writes_it_reads_back(workdir: Path) -> None:
    assert main(["WebImage", "--format", "imagedetail", "--output", "chained/imageDetail.json"]) == 0
    assert main(["chained", "--output", "again.json"]) == 0
    assert json.loads((workdir / "again.json").read_text()) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"}
    ]


def test_a_bare_file_is_the_artifact_named_after_its_folder(workdir: Path) -> None:
    # Given the imageDetail.json inside the WebImage folder, named by its path alone
    # When --container names the artifact "WebImage", and the output goes to folders that do not exist yet
    exit_code = main(["WebImage/imageDetail.json", "--container", "WebImage=frontend", "--output", "a/b/c/"])
    # Then the file was read as artifact "WebImage", and written in the nested folders
    assert exit_code == 0
    assert json.loads((workdir / "a/b/c/imagedefinitions.json").read_text()) == [
        {"name": "frontend", "imageUri": f"{REGISTRY}/shop/web:latest"}
    ]


@pytest.mark.parametrize(
    ("arguments", "flag"),
    [
        (["WebImage", "--file", "defs\udcff.json"], "--file"),
        (["WebImage", "--tag", "v\udcff"], "--tag"),
        (["WebImage", "--container", "WebImage=web\udcff"], "--container"),
        (["WebImage", "--containers", '{"WebImage": "web\udcff"}'], "--containers"),
        (["WebImage", "--output", "out\udcff.json"], "--output"),
        (["WebImage", "--allowed-registries", "ghcr.io,\udcff"], "--allowed-registries"),
        (["Web\udcffImage"], "An input"),
    ],
)
def test_arguments_that_are_not_utf8_are_a_usage_error_naming_the_flag(
    workdir: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], flag: str
) -> None:
    # Given an argument of bytes that are not UTF-8 (Python hands them over as unpaired surrogates)
    assert main(arguments) == 2
    # Then one line names the flag, and nothing is written
    assert capsys.readouterr().err == f"imagedefs: error: {flag} is not valid UTF-8 text: give it in UTF-8.\n"
    assert list(workdir.glob("*.json")) == []


def test_twenty_container_flags_are_not_held_to_the_user_parameters_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 20 artifacts, each giving its image to two containers with a --container flag (as JSON text, more than
    # UserParameters' 1,000 characters)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMAGEDEFS_ALLOWED_REGISTRIES", raising=False)
    containers: dict[str, list[str]] = {}
    flags: list[str] = []
    for index in range(20):
        artifact = f"ServiceImage{index:02d}"
        (tmp_path / artifact).mkdir()
        (tmp_path / artifact / "imageDetail.json").write_text(json.dumps(image_detail(f"shop/service-{index}")))
        containers[artifact] = [f"web-server-{index:02d}", f"queue-worker-{index:02d}"]
        flags += ["--container", f"{artifact}=web-server-{index:02d},queue-worker-{index:02d}"]
    assert len(json.dumps({"containers": containers})) > 1000

    # When the command runs with them
    exit_code = main([*containers, *flags])

    # Then it writes all 40 containers, as the flags say
    assert exit_code == 0
    written = json.loads((tmp_path / "imagedefinitions.json").read_text())
    assert [entry["name"] for entry in written] == [name for names in containers.values() for name in names]
    assert written[-1]["imageUri"] == f"{REGISTRY}/shop/service-19:latest"


@pytest.mark.parametrize(
    ("flags", "user_parameters"),
    [
        ([], {}),
        (["--container", "A=web", "--container", "B=api,worker"], {"containers": {"A": "web", "B": ["api", "worker"]}}),
        (["--containers", '{"A": ["web"]}', "--container", "B=api"], {"containers": {"A": ["web"], "B": "api"}}),
        (["--pin", "digest", "--tag", "v.*", "--file", "x.json"], {"pin": "digest", "tag": "v.*", "file": "x.json"}),
        (["--format", "codedeploy"], {"format": "codedeploy"}),
        (["--outputs", '{"A": ["web"], "B": ["api"]}'], {"outputs": {"A": ["web"], "B": ["api"]}}),
        (
            [
                "--images",
                '{"api": {"repository": "a/api", "tag": "1", "registry": "ghcr.io"}}',
                "--image",
                "w=x.io/w:1",
            ],
            {"images": {"api": {"repository": "a/api", "tag": "1", "registry": "ghcr.io"}, "w": "x.io/w:1"}},
        ),
    ],
)
def test_the_flags_make_the_configuration_their_user_parameters_make(
    flags: list[str], user_parameters: dict[str, object]
) -> None:
    # Given flags and the UserParameters that say the same
    settings = Settings.from_environment({}, CLI_WORDING)

    # When each becomes the configuration, the flags as a mapping and UserParameters from its text
    from_flags = config_from_mapping(_configuration(_parser().parse_args(["In", *flags])), settings)

    # Then both are the same configuration
    assert from_flags == parse_user_parameters(json.dumps(user_parameters), settings)


def test_image_flags_need_no_input(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digest = "sha256:" + "d" * 64
    exit_code = main(["--image", f"web={REGISTRY}/shop/web@{digest}", "--image", "api=ghcr.io/org/api:1.2"])

    assert exit_code == 0
    assert json.loads((workdir / "imagedefinitions.json").read_text()) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web@{digest}"},
        {"name": "api", "imageUri": "ghcr.io/org/api:1.2"},
    ]
    assert "web → " in capsys.readouterr().out


def test_image_flags_are_the_images_mapping_and_mix_with_inputs(workdir: Path) -> None:
    arguments = _parser().parse_args(["WebImage", "--image", "api=ghcr.io/org/api:1.2"])
    assert _configuration(arguments) == {"images": {"api": "ghcr.io/org/api:1.2"}}

    assert main(["WebImage", "--container", "WebImage=web", "--image", "api=ghcr.io/org/api:1.2"]) == 0
    assert [entry["name"] for entry in json.loads((workdir / "imagedefinitions.json").read_text())] == ["web", "api"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--image", "web=shop/web:v5"], '--image for container "web" is "shop/web:v5", which names no registry'),
        (["--image", "web"], '--image "web" must be CONTAINER=REFERENCE.'),
        (["--image", "web=ghcr.io/a:1", "--image", "web=ghcr.io/b:1"], '--image names container "web" twice'),
        (["WebImage", "--image", "web=ghcr.io/a:1"], 'Container "web" gets an image from both artifact "WebImage"'),
        (["--pin", "digest", "--image", "web=ghcr.io/a:1"], "which has a tag but no digest, and the job pins by"),
    ],
)
def test_bad_image_flags_say_what_to_fix(
    workdir: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert main(flags) == 2
    assert message in capsys.readouterr().err


def test_no_input_and_no_image_is_a_usage_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "--image CONTAINER=REFERENCE" in capsys.readouterr().err


def test_the_functions_ecr_gate_settings_do_not_apply_to_the_command_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the function's stack settings for the ECR gate in the environment (a shell that copied them)
    monkeypatch.setenv("IMAGEDEFS_VERIFY_IMAGES", "true")
    monkeypatch.setenv("IMAGEDEFS_FAIL_ON_SEVERITY", "not a severity")

    # When the command line runs: it reads nothing from AWS, so they neither apply nor fail it
    assert main(["WebImage"]) == 0

    # Then it wrote the file, and its summary claims no lookup
    assert json.loads((workdir / "imagedefinitions.json").read_text())[0]["name"] == "web"
    assert "ECR" not in capsys.readouterr().out


def test_output_dash_writes_the_file_to_standard_output_and_the_summary_to_standard_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the output is -
    assert main(["WebImage", "--output", "-"]) == 0

    # Then standard output holds exactly the file's bytes, and the summary is on standard error; no file is written
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"}]
    assert captured.out.endswith("]\n")
    assert captured.err == f"Wrote imagedefinitions.json to standard output: web → {REGISTRY}/shop/web:latest\n"
    assert not (workdir / "imagedefinitions.json").exists()
    assert not (workdir / "-").exists()


@pytest.mark.parametrize(
    ("flags", "files"),
    [
        (["--format", "codedeploy", "--taskdef", TASKDEF, "--lb-container", "web"], '"taskdef.json", "appspec.yaml"'),
        (["--outputs", '{"A": ["web"], "B": ["web"]}'], '"imagedefinitions.json", "imagedefinitions.json"'),
    ],
)
def test_output_dash_for_several_files_is_a_usage_error(
    workdir: Path, capsys: pytest.CaptureFixture[str], flags: list[str], files: str
) -> None:
    assert main(["WebImage", "--container", "WebImage=web", *flags, "--output", "-"]) == 2

    assert capsys.readouterr() == (
        "",
        f"imagedefs: error: --output - writes one file to standard output, but this run writes 2 ({files}): give "
        "--output a folder.\n",
    )


@pytest.mark.parametrize(
    ("arguments", "read"),
    [
        (["web=WebImage/imagedefinitions.json", "--output", "WebImage/imagedefinitions.json"], "definitions"),
        (["WebImage", "--format", "imagedetail", "--output", "WebImage"], "detail"),
        (["WebImage", "--format", "imagedetail", "--output", "hardlink.json"], "detail"),
        (["WebImage", "--format", "imagedetail", "--output", "symlink.json"], "detail"),
        (["ApiImage.zip", "--output", "ApiImage.zip"], "zip"),
        (["ApiImage=ApiImage.zip", "--output", "-"], "zip on standard output"),
        (
            [
                *("WebImage", "--format", "codedeploy", "--taskdef", "deploy/taskdef.json", "--lb-container", "web"),
                *("--output", "deploy"),
            ],
            "taskdef",
        ),
    ],
)
def test_an_input_is_never_overwritten(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, arguments: list[str], read: str
) -> None:
    # Given inputs, and names that reach them: a hard link, a symbolic link, standard output appending to one
    (workdir / "WebImage" / "imagedefinitions.json").write_text(json.dumps([{"name": "web", "imageUri": "a.io/b:1"}]))
    (workdir / "hardlink.json").hardlink_to(workdir / "WebImage" / "imageDetail.json")
    (workdir / "symlink.json").symlink_to(workdir / "WebImage" / "imageDetail.json")
    (workdir / "deploy").mkdir()
    (workdir / "deploy" / "taskdef.json").write_bytes(Path(TASKDEF).read_bytes())
    before = {path: path.read_bytes() for path in workdir.rglob("*") if path.is_file()}
    if read == "zip on standard output":
        appending = (workdir / "ApiImage.zip").open("ab")
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(appending))

    # When the output would replace one of them
    exit_code = main(arguments)

    # Then the command refuses in one line, naming the input, and every input is as it was
    assert exit_code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert ", which imagedefs never overwrites; write the output elsewhere." in error
    assert error.startswith("imagedefs: error: Cannot write ")
    assert {path: path.read_bytes() for path in before} == before
    assert (workdir / "symlink.json").is_symlink()


def test_a_replaced_file_keeps_its_mode_and_a_symbolic_link_stays_a_link(workdir: Path) -> None:
    # Given an earlier output only its owner may read, reached through a symbolic link
    (workdir / "out.json").write_text("old")
    (workdir / "out.json").chmod(0o600)
    (workdir / "current.json").symlink_to("out.json")

    # When the command writes through the link
    assert main(["WebImage", "--output", "current.json"]) == 0

    # Then the link's target holds the new file, with its mode, and the link is still a link
    assert (workdir / "current.json").is_symlink()
    assert json.loads((workdir / "out.json").read_text())[0]["name"] == "web"
    assert (workdir / "out.json").stat().st_mode & 0o777 == 0o600


def test_a_symbolic_link_to_nothing_is_not_written_through(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "dangling.json").symlink_to(workdir / "elsewhere" / "x.json")

    assert main(["WebImage", "--output", "dangling.json"]) == 2

    assert capsys.readouterr().err == (
        "imagedefs: error: Cannot write dangling.json: it is a symbolic link to a file that does not exist, which "
        "imagedefs never creates.\n"
    )
    assert not (workdir / "elsewhere").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("README.md", b"# Read me\n", "the file is not valid JSON"),
        ("Web.tar.gz", b"\x1f\x8b\x08\x00" + bytes(100), "the file is not UTF-8 text (byte 1 is invalid)"),
        ("detail.json", b'{"ImageURI": "nope"}', 'field "ImageURI" is "nope", which is not an image reference'),
    ],
)
def test_a_file_of_another_name_is_named_as_given_and_read_as_an_image_detail(
    workdir: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, message: str
) -> None:
    (workdir / "docs").mkdir()
    (workdir / "docs" / name).write_bytes(content)

    assert main([f"docs/{name}"]) == 1

    assert capsys.readouterr().err.startswith(
        f'imagedefs: error: Artifact "docs", file docs/{name} (read as an imageDetail.json, as a file of another name '
        f"is): {message}"
    )


def test_a_zip_is_known_by_its_first_bytes_whatever_its_name(workdir: Path) -> None:
    # Given an artifact zip saved under its S3 object key, with no .zip
    (workdir / "3fA9kLm").write_bytes(zip_files({"imageDetail.json": image_detail("shop/api")}))

    assert main(["ApiImage=3fA9kLm", "--output", "out.json"]) == 0

    assert json.loads((workdir / "out.json").read_text()) == [
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api:latest"}
    ]


def test_a_folder_and_a_zip_holding_both_image_files_are_read_by_one_rule_named_in_the_summary(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder and a zip, each holding an imageDetail.json and an imagedefinitions.json
    definitions = json.dumps([{"name": "web", "imageUri": "ghcr.io/other/web:9"}])
    (workdir / "WebImage" / "imagedefinitions.json").write_text(definitions)
    (workdir / "WebZip.zip").write_bytes(
        zip_files({"imagedefinitions.json": definitions, "imageDetail.json": image_detail(tags=["latest", "v2"])})
    )
    summaries = []

    # When each is read
    for source in ("WebImage", "WebZip.zip"):
        assert main([source, "--output", f"{source}.out"]) == 0
        summaries.append(capsys.readouterr().out)

    # Then both are read for their imageDetail.json, and the summary says so
    artifact = {"WebImage": "WebImage", "WebZip.zip": "WebZip"}
    for source, summary in zip(artifact, summaries, strict=True):
        assert json.loads((workdir / f"{source}.out").read_text()) == [
            {"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"}
        ]
        assert summary == (
            f'Wrote {source}.out: web → {REGISTRY}/shop/web:latest (artifact "{artifact[source]}" holds both '
            "imageDetail.json and imagedefinitions.json: imageDetail.json read, imagedefinitions.json ignored)\n"
        )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "neither",
            'Artifact "Empty": folder Empty holds no imageDetail.json (nor imagedefinitions.json); it holds: '
            '"notes.txt", "taskdef.json". Give the folder',
        ),
        ("directory", 'Input "Empty" Empty/imageDetail.json is a directory, not a file'),
        ("dangling", 'Cannot read Input "Empty" Empty/imageDetail.json: No such file or directory.'),
        ("loop", 'Cannot read Input "Empty" Empty/imageDetail.json: Too many levels of symbolic links.'),
    ],
)
def test_a_folder_without_a_readable_image_file_is_one_line_naming_it(
    workdir: Path, capsys: pytest.CaptureFixture[str], setup: str, message: str
) -> None:
    folder = workdir / "Empty"
    folder.mkdir()
    if setup == "neither":
        (folder / "taskdef.json").write_text("{}")
        (folder / "notes.txt").write_text("")
    elif setup == "directory":
        (folder / "imageDetail.json").mkdir()
    elif setup == "dangling":
        (folder / "imageDetail.json").symlink_to("gone.json")
    else:
        (folder / "imageDetail.json").symlink_to("imageDetail.json")

    assert main(["Empty"]) in (1, 2)

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"imagedefs: error: {message}")


def test_a_symbolic_link_loop_as_input_is_one_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "loop").symlink_to("loop")

    assert main(["loop"]) == 2

    assert capsys.readouterr().err == "imagedefs: error: Cannot read Input loop: Too many levels of symbolic links.\n"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"ImageURI": "ghcr.io/acme/web:v7"},
            'Artifact "web", file Built/imageDetail.json: image ghcr.io/acme/web:v7 has a tag but no digest, and the '
            "job pins by digest (--pin, or else the environment variable IMAGEDEFS_DEFAULT_PIN), which promises that "
            "no tag is written.",
        ),
        (
            [{"name": "web", "imageUri": "ghcr.io/acme/web:v7"}],
            'Artifact "web", file Built/imagedefinitions.json, container "web": image ghcr.io/acme/web:v7 has a tag '
            "but no digest, and the job pins by digest",
        ),
    ],
)
def test_pin_digest_never_writes_a_tag(
    workdir: Path, capsys: pytest.CaptureFixture[str], document: object, message: str
) -> None:
    # Given an artifact naming its image by tag alone
    (workdir / "Built").mkdir()
    name = "imageDetail.json" if isinstance(document, dict) else "imagedefinitions.json"
    (workdir / "Built" / name).write_text(json.dumps(document))

    # When the command pins by digest
    assert main(["web=Built", "--pin", "digest"]) == 1

    # Then it fails, naming the artifact, the file and the image (and no ECR lookup: the command reads no AWS);
    # nothing is written
    error = capsys.readouterr().err
    assert error.startswith(f"imagedefs: error: {message}")
    assert error.endswith("give it), or pin by tag.\n")
    assert not (workdir / "imagedefinitions.json").exists()


def test_outputs_write_a_folder_per_output(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given two images, split across two outputs as UserParameters "outputs" splits them across output artifacts
    outputs = json.dumps({"WebDefinitions": ["web"], "ApiDefinitions": ["api"]})

    # When the command writes them into a folder
    assert main(["WebImage", "ApiImage.zip", "--outputs", outputs, "--output", "o"]) == 0

    # Then each output is a folder holding the file for its containers
    assert json.loads((workdir / "o" / "WebDefinitions" / "imagedefinitions.json").read_text()) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"}
    ]
    assert json.loads((workdir / "o" / "ApiDefinitions" / "imagedefinitions.json").read_text()) == [
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api:latest"}
    ]
    assert capsys.readouterr().out.startswith(
        "Wrote o/WebDefinitions/imagedefinitions.json, o/ApiDefinitions/imagedefinitions.json: web → "
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--outputs", '{"../up": ["web"]}'], '--outputs names output "../up", which is not an artifact name'),
        (["--outputs", '{"/etc": ["web"]}'], '--outputs names output "/etc", which is not an artifact name'),
        (["--outputs", '{"A": ["nope"]}'], '--outputs puts container(s) "nope" into output artifact "A"'),
        (["--outputs", "["], "--outputs is not valid JSON"),
        (
            ["--format", "imagedetail", "--image", "api=ghcr.io/a:1", "--outputs", '{"A": ["web", "api"]}'],
            "Give each output artifact one container with --outputs.",
        ),
        (
            ["--images", '{"web": "ghcr.io/a:1"}'],
            'Container "web" gets an image from both artifact "WebImage" and --images',
        ),
        (
            ["--images", '{"api": {"repository": "shop/api", "tag": "v1"}}'],
            '--images for container "api": repository "shop/api" has no "registry"',
        ),
        (["--images", "[]", "--image", "api=ghcr.io/a:1"], "--image adds to --images, which must then be a JSON"),
    ],
)
def test_bad_outputs_and_images_flags_say_what_to_fix(
    workdir: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert main(["WebImage", *flags]) == 2
    assert message in capsys.readouterr().err
    assert list(workdir.rglob("imagedefinitions.json")) == []


def test_images_flag_takes_the_user_parameters_mapping(workdir: Path) -> None:
    # Given the "images" object of a pipeline's UserParameters, with the registry its account and region would give
    images = {"api": {"repository": "shop/api", "digest": "c" * 64, "registry": REGISTRY}, "log": "ghcr.io/a/log:1"}

    assert main(["WebImage", "--images", json.dumps(images), "--image", "proxy=ghcr.io/a/envoy:2"]) == 0

    assert json.loads((workdir / "imagedefinitions.json").read_text()) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"},
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api@sha256:{'c' * 64}"},
        {"name": "log", "imageUri": "ghcr.io/a/log:1"},
        {"name": "proxy", "imageUri": "ghcr.io/a/envoy:2"},
    ]


def test_every_user_parameters_key_has_a_flag_or_a_row_saying_why_not() -> None:
    # Given the README's table of the keys the command line lacks
    section = (ROOT / "README.md").read_text().split("## The same rewrite on the command line", 1)[1].split("\n## ")[0]
    table = section.split("The keys the command line lacks", 1)[1].split("\n\n", 2)[1]
    lacking = set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))
    flags = {option for action in _parser()._actions for option in action.option_strings}

    # Then every key is a flag of its own name (one flag per value for overrides and hooks), or a row of that
    # table, never both
    one_per_value = {"overrides": "--override", "hooks": "--hook"}
    for key in USER_PARAMETER_KEYS:
        assert (one_per_value.get(key, f"--{key}") in flags) != (key in lacking), key
    assert {"verify", "failOnSeverity", "role", "service"} <= lacking


def _deny(monkeypatch: pytest.MonkeyPatch, call: str, name: str) -> None:
    """os.<call> on a path ending in `name` fails with EACCES, as it does for a user without the permission
    (root is let through, so the tests that run as root see the refusal this way)."""
    real = getattr(os, call)

    def denied(path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith(name):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, call, denied)


@pytest.mark.parametrize(
    ("arguments", "call", "denied", "message"),
    [
        (["WebImage"], "stat", "WebImage/imageDetail.json", 'Input "WebImage" WebImage/imageDetail.json: Permission'),
        (["WebImage/imageDetail.json"], "stat", "WebImage/imageDetail.json", "Input WebImage/imageDetail.json: Perm"),
        (["WebImage"], "open", "WebImage/imageDetail.json", 'Input "WebImage" WebImage/imageDetail.json: Permission'),
        (["web=ApiImage.zip"], "open", "ApiImage.zip", 'Input "web" ApiImage.zip: Permission'),
        (["WebImage", "--format", "codedeploy", "--taskdef", "td.json"], "open", "td.json", "--taskdef td.json: Perm"),
    ],
    ids=["folder not searchable", "file in a folder not searchable", "file not readable", "zip", "taskdef"],
)
def test_an_input_that_may_not_be_read_is_one_line_naming_it(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    call: str,
    denied: str,
    message: str,
) -> None:
    # Given an input that may not be searched or read
    (workdir / "td.json").write_bytes(Path(TASKDEF).read_bytes())
    _deny(monkeypatch, call, denied)

    # Then the command refuses in one line naming it, and why
    assert main([*arguments, "--lb-container", "web"] if "--taskdef" in arguments else arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"imagedefs: error: Cannot read {message}")
    assert error.endswith(": Permission denied.\n")
    assert error.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_one_line_for_a_user_without_permission(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "WebImage" / "imageDetail.json").chmod(0)

    assert main(["WebImage"]) == 2

    assert capsys.readouterr().err == (
        'imagedefs: error: Cannot read Input "WebImage" WebImage/imageDetail.json: Permission denied.\n'
    )


def test_the_file_a_folder_holds_beside_the_one_read_is_never_overwritten(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder holding both image files, of which the command reads imageDetail.json
    ignored = workdir / "WebImage" / "imagedefinitions.json"
    ignored.write_text(json.dumps([{"name": "web", "imageUri": "a.io/precious:1"}]))
    before = ignored.read_bytes()

    # When the output would be written over the other one
    assert main(["WebImage", "--output", "WebImage"]) == 2

    # Then it refuses, naming it, and the file is as it was
    assert "WebImage/imagedefinitions.json, which imagedefs never overwrites" in capsys.readouterr().err
    assert ignored.read_bytes() == before


def test_an_output_file_name_as_long_as_the_file_system_allows_is_written(workdir: Path) -> None:
    # Given a --file name of 250 bytes (file systems allow 255; the temporary file beside it must not be longer)
    name = "a" * 245 + ".json"
    (workdir / "out").mkdir()

    assert main(["WebImage", "--file", name, "--output", "out"]) == 0

    assert json.loads((workdir / "out" / name).read_text())[0]["name"] == "web"
    assert [path.name for path in (workdir / "out").iterdir()] == [name]
