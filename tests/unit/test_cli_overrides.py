"""The command line's --override and --hook: UserParameters "overrides" and "hooks", one flag per value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from imagedefs.cli import CLI_WORDING, _configuration, _parser, main
from imagedefs.config import Settings, config_from_mapping, parse_user_parameters
from tests.samples import described_task_definition, image_detail

ROOT = Path(__file__).resolve().parents[2]
TASKDEF = str(ROOT / "events" / "describe-task-definition.json")
CODEDEPLOY = ["WebImage", "--container", "WebImage=web", "--format", "codedeploy", "--taskdef", TASKDEF]
CODEDEPLOY += ["--lb-container", "web", "--lb-port", "8080"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMAGEDEFS_ALLOWED_REGISTRIES", raising=False)
    monkeypatch.delenv("IMAGEDEFS_DEFAULT_HOOKS", raising=False)
    (tmp_path / "WebImage").mkdir()
    (tmp_path / "WebImage" / "imageDetail.json").write_text(json.dumps(image_detail(tags=["v2"])))
    return tmp_path


@pytest.mark.parametrize(
    ("flags", "user_parameters"),
    [
        pytest.param(
            ["--override", "web.environment.GIT_SHA=4f2a", "--override", "web.environment.LOG_FORMAT=a=b"],
            {"overrides": {"containers": {"web": {"environment": {"GIT_SHA": "4f2a", "LOG_FORMAT": "a=b"}}}}},
            id="environment: the value is everything after the first =",
        ),
        pytest.param(
            ["--override", "web.dockerLabels.com.example.commit=4f2a"],
            {"overrides": {"containers": {"web": {"dockerLabels": {"com.example.commit": "4f2a"}}}}},
            id="a label key with dots",
        ),
        pytest.param(
            ["--override", 'api.command=["serve", "--port", "80"]'],
            {"overrides": {"containers": {"api": {"command": ["serve", "--port", "80"]}}}},
            id="command as a JSON list",
        ),
        pytest.param(
            ["--override", "task.cpu=512", "--override", "task.memory=1 GB", "--override", "task.environment.X=1"],
            {
                "overrides": {
                    "containers": {"task": {"environment": {"X": "1"}}},
                    "task": {"cpu": "512", "memory": "1 GB"},
                }
            },
            id='the task\'s size, and a container named "task"',
        ),
        pytest.param(
            [
                "--hook",
                "AfterAllowTestTraffic=CodeDeployHook_smoke",
                "--hook",
                "BeforeInstall=CodeDeployHook_gate:live",
            ],
            {"hooks": {"AfterAllowTestTraffic": "CodeDeployHook_smoke", "BeforeInstall": "CodeDeployHook_gate:live"}},
            id="hooks",
        ),
    ],
)
def test_override_and_hook_flags_make_the_configuration_their_user_parameters_make(
    flags: list[str], user_parameters: dict[str, object]
) -> None:
    settings = Settings.from_environment({}, CLI_WORDING)

    from_flags = config_from_mapping(
        _configuration(_parser().parse_args(["In", "--format", "codedeploy", *flags])), settings
    )

    assert from_flags == parse_user_parameters(json.dumps({"format": "codedeploy", **user_parameters}), settings)


def test_override_and_hook_flags_reach_taskdef_json_and_appspec_yaml(workdir: Path) -> None:
    # Given the service's task definition file and flags that set a variable, a label, the size and a hook
    flags = ["--override", "web.environment.GIT_SHA=4f2a", "--override", "web.dockerLabels.commit=4f2a"]
    flags += ["--override", "task.memory=2048", "--hook", "AfterAllowTestTraffic=CodeDeployHook_smoke"]

    # When the command line renders the blue/green files
    exit_code = main([*CODEDEPLOY, *flags, "--output", "deploy"])

    # Then the files are those of the action: the overrides applied, the hook in the appspec
    assert exit_code == 0
    web = json.loads((workdir / "deploy" / "taskdef.json").read_text())["containerDefinitions"][0]
    live = described_task_definition()["taskDefinition"]["containerDefinitions"][0]
    assert web["environment"] == [*live["environment"], {"name": "GIT_SHA", "value": "4f2a"}]
    assert web["dockerLabels"] == {"commit": "4f2a"}
    assert json.loads((workdir / "deploy" / "taskdef.json").read_text())["memory"] == "2048"
    appspec = yaml.safe_load((workdir / "deploy" / "appspec.yaml").read_text())
    assert appspec["Hooks"] == [{"AfterAllowTestTraffic": "CodeDeployHook_smoke"}]


def test_the_default_hooks_variable_applies_on_the_command_line_too(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEDEFS_DEFAULT_HOOKS", "AfterAllowTraffic=CodeDeployHook_notify")

    assert main([*CODEDEPLOY, "--hook", "BeforeInstall=CodeDeployHook_gate"]) == 0

    assert yaml.safe_load((workdir / "appspec.yaml").read_text())["Hooks"] == [
        {"BeforeInstall": "CodeDeployHook_gate"},
        {"AfterAllowTraffic": "CodeDeployHook_notify"},
    ]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(
            ["--override", "web.environment=GIT_SHA"],
            '--override "web.environment=GIT_SHA" must be CONTAINER.environment.NAME=VALUE, '
            "CONTAINER.dockerLabels.KEY=VALUE, CONTAINER.command='[\"arg\", ...]', task.cpu=VALUE or "
            "task.memory=VALUE, for example --override web.environment.GIT_SHA=$CODEBUILD_RESOLVED_SOURCE_VERSION.",
            id="environment without a name",
        ),
        pytest.param(["--override", "web.command"], '--override "web.command" must be', id="no ="),
        pytest.param(["--override", "web=1"], '--override "web=1" must be', id="no key"),
        pytest.param(["--override", "task.cpu.x=1"], '--override "task.cpu.x=1" must be', id="a name after cpu"),
        pytest.param(
            ["--override", "web.command=serve"],
            '--override "web.command" is not valid JSON',
            id="command not JSON",
        ),
        pytest.param(
            ["--override", 'web.command="serve"'],
            '--override for container "web": "command" must be a non-empty list of strings',
            id="command not a list",
        ),
        pytest.param(
            ["--override", "web.environment.A=1", "--override", "web.environment.A=2"],
            '--override "web.environment.A" is given twice; give it one value.',
            id="a value twice",
        ),
        pytest.param(
            ["--override", "web.secrets=[]"],
            '--override for container "web" sets "secrets", which cannot be overridden: secrets widen what a task '
            "may read",
            id="secrets",
        ),
        pytest.param(
            ["--override", "web.environment.DB_PASSWORD=plain"],
            'sets environment variable(s) "DB_PASSWORD", which the container takes from a secret',
            id="a variable that is a secret",
        ),
        pytest.param(
            ["--override", 'worker.command=["x"]'],
            '--override names container(s) "worker", which the task definition in',
            id="a container the task definition lacks",
        ),
        pytest.param(
            ["--hook", "AfterAllowTestTraffic"],
            '--hook "AfterAllowTestTraffic" must be EVENT=FUNCTION, for example --hook '
            "AfterAllowTestTraffic=CodeDeployHook_smoke_test.",
            id="a hook without =",
        ),
        pytest.param(
            ["--hook", "BeforeInstall=a", "--hook", "BeforeInstall=b"],
            '--hook names lifecycle event "BeforeInstall" twice',
            id="a hook twice",
        ),
        pytest.param(
            ["--hook", "BeforeInstall=my function"],
            '--hook for "BeforeInstall" is "my function", which is not a Lambda function name',
            id="a hook function outside Lambda's grammar",
        ),
    ],
)
def test_bad_override_and_hook_flags_exit_2_saying_what_to_fix(
    workdir: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert main([*CODEDEPLOY, *flags]) == 2

    assert message in capsys.readouterr().err
    assert not (workdir / "taskdef.json").exists()


def test_override_and_hook_flags_need_format_codedeploy(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["WebImage", "--override", "web.environment.X=1"]) == 2
    assert '--override applies to format "codedeploy" only: format "imagedefinitions" writes a file holding only' in (
        capsys.readouterr().err
    )
    assert main(["WebImage", "--format", "imagedetail", "--hook", "BeforeInstall=CodeDeployHook_x"]) == 2
    assert '--hook applies to format "codedeploy" only' in capsys.readouterr().err
