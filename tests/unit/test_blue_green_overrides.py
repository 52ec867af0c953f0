"""Format "codedeploy" beyond the images: UserParameters "overrides" in taskdef.json, "hooks" in appspec.yaml."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from imagedefs.config import Settings, config_from_mapping, parse_user_parameters
from imagedefs.errors import ConfigurationError
from imagedefs.formats.codedeploy import BlueGreenService, LoadBalancerTarget
from imagedefs.formats.image_files import parse_image_detail
from imagedefs.overrides import HOOK_EVENTS
from imagedefs.plan import build_plan
from tests.samples import DIGEST_A, REGISTRY, image_detail

SECRET_ARN = "arn:aws:ssm:us-west-2:123456789012:parameter/db"
HOOK_ARN = "arn:aws:lambda:us-west-2:123456789012:function:CodeDeployHook_smoke:live"


def task_definition() -> dict[str, Any]:
    """A small Fargate task definition: "web" with two variables, a secret and a label; a container named "task"."""
    return {
        "family": "shop",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "old/web",
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": SECRET_ARN}],
                "dockerLabels": {"team": "shop"},
            },
            {"name": "task", "image": "old/task"},
        ],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
    }


def service(**changes: Any) -> BlueGreenService:
    fields: dict[str, Any] = {
        "described_as": 'the task definition shop:3 of ECS service "prod/shop"',
        "task_definition": task_definition(),
        "tags": (),
        "load_balancer": LoadBalancerTarget("web", 80),
    }
    return BlueGreenService(**{**fields, **changes})


# taskdef.json of the job below without overrides, byte for byte: web gets its new image.
BASE_TASKDEF = f"""{{
  "family": "shop",
  "containerDefinitions": [
    {{
      "name": "web",
      "image": "{REGISTRY}/shop/web:v2",
      "environment": [
        {{
          "name": "A",
          "value": "1"
        }},
        {{
          "name": "B",
          "value": "2"
        }}
      ],
      "secrets": [
        {{
          "name": "DB_PASSWORD",
          "valueFrom": "{SECRET_ARN}"
        }}
      ],
      "dockerLabels": {{
        "team": "shop"
      }}
    }},
    {{
      "name": "task",
      "image": "old/task"
    }}
  ],
  "requiresCompatibilities": [
    "FARGATE"
  ],
  "cpu": "256",
  "memory": "512"
}}
"""
BASE_APPSPEC = """version: 0.0
Resources:
  - TargetService:
      Type: "AWS::ECS::Service"
      Properties:
        TaskDefinition: "<TASK_DEFINITION>"
        LoadBalancerInfo:
          ContainerName: "web"
          ContainerPort: 80
"""


def render(parameters: dict[str, Any], blue_green: BlueGreenService | None = None, **settings: Any) -> dict[str, str]:
    """The files of a codedeploy job giving web its new image, with these UserParameters."""
    config = config_from_mapping(
        {"format": "codedeploy", "containers": {"WebImage": "web"}, **parameters}, Settings(**settings)
    )
    source = parse_image_detail("WebImage", json.dumps(image_detail("shop/web", DIGEST_A, ["v2"])).encode())
    plan = build_plan([source], ["BlueGreen"], config, Settings(**settings), blue_green or service())
    (output,) = plan.outputs
    return {file.name: file.content.decode() for file in output.files}


def refused(parameters: dict[str, Any], blue_green: BlueGreenService | None = None, **settings: Any) -> str:
    with pytest.raises(ConfigurationError) as raised:
        render(parameters, blue_green, **settings)
    return str(raised.value)


@pytest.mark.parametrize(
    ("overrides", "before", "after"),
    [
        pytest.param(
            {"containers": {"web": {"environment": {"B": "b", "C": "c"}}}},
            '          "value": "2"\n        }\n      ],',
            '          "value": "b"\n        },\n        {\n'
            '          "name": "C",\n          "value": "c"\n        }\n      ],',
            id="environment: B replaced in place, C added after the others",
        ),
        pytest.param(
            {"containers": {"web": {"dockerLabels": {"team": "web", "commit": "4f2a"}}}},
            '        "team": "shop"\n',
            '        "team": "web",\n        "commit": "4f2a"\n',
            id="dockerLabels: team replaced, commit added",
        ),
        pytest.param(
            {"containers": {"task": {"command": ["serve", "--port", "80"]}}},
            '      "image": "old/task"\n',
            '      "image": "old/task",\n'
            '      "command": [\n        "serve",\n        "--port",\n        "80"\n      ]\n',
            id='command of the container named "task"',
        ),
        pytest.param(
            {"containers": {"task": {"environment": {"GIT_SHA": "4f2a"}, "dockerLabels": {"commit": "4f2a"}}}},
            '      "image": "old/task"\n',
            '      "image": "old/task",\n      "environment": [\n        {\n          "name": "GIT_SHA",\n'
            '          "value": "4f2a"\n        }\n      ],\n'
            '      "dockerLabels": {\n        "commit": "4f2a"\n      }\n',
            id="a container with no environment nor labels gets them",
        ),
        pytest.param(
            {"task": {"cpu": "512", "memory": "1024"}},
            '  "cpu": "256",\n  "memory": "512"\n',
            '  "cpu": "512",\n  "memory": "1024"\n',
            id="task cpu and memory",
        ),
        pytest.param(
            {"task": {"cpu": 1024, "memory": "4 GB"}},
            '  "cpu": "256",\n  "memory": "512"\n',
            '  "cpu": "1024",\n  "memory": "4 GB"\n',
            id="a whole number is written as the string ECS takes; GB as given",
        ),
    ],
)
def test_each_override_changes_exactly_its_part_of_taskdef_json(
    overrides: dict[str, Any], before: str, after: str
) -> None:
    # Given the service's task definition and an override
    assert BASE_TASKDEF.count(before) == 1

    # When the job renders its files
    files = render({"overrides": overrides})

    # Then taskdef.json is the one without overrides with exactly that part changed, and appspec.yaml is unchanged
    assert files == {"taskdef.json": BASE_TASKDEF.replace(before, after), "appspec.yaml": BASE_APPSPEC}


def test_without_overrides_the_files_are_the_live_task_definition_with_the_image() -> None:
    assert render({}) == {"taskdef.json": BASE_TASKDEF, "appspec.yaml": BASE_APPSPEC}


@pytest.mark.parametrize(
    ("hooks", "written"),
    [
        pytest.param(
            {"AfterAllowTestTraffic": "CodeDeployHook_smoke"},
            'Hooks:\n  - AfterAllowTestTraffic: "CodeDeployHook_smoke"\n',
            id="one hook by name",
        ),
        pytest.param(
            {"BeforeAllowTraffic": HOOK_ARN},
            f'Hooks:\n  - BeforeAllowTraffic: "{HOOK_ARN}"\n',
            id="one hook by ARN with an alias",
        ),
        pytest.param(
            {event: f"CodeDeployHook_{index}" for index, event in reversed(list(enumerate(HOOK_EVENTS)))},
            "Hooks:\n" + "".join(f'  - {event}: "CodeDeployHook_{index}"\n' for index, event in enumerate(HOOK_EVENTS)),
            id="every event, written in the order CodeDeploy runs them",
        ),
        pytest.param(
            {"BeforeInstall": "CodeDeployHook_check:$LATEST", "AfterInstall": "CodeDeployHook_check:7"},
            'Hooks:\n  - BeforeInstall: "CodeDeployHook_check:$LATEST"\n  - AfterInstall: "CodeDeployHook_check:7"\n',
            id="versions",
        ),
    ],
)
def test_each_hook_is_written_into_appspec_yaml_as_codedeploy_reads_it(hooks: dict[str, str], written: str) -> None:
    files = render({"hooks": hooks})

    assert files == {"taskdef.json": BASE_TASKDEF, "appspec.yaml": BASE_APPSPEC + written}
    assert yaml.safe_load(files["appspec.yaml"])["Hooks"] == [
        {event: hooks[event]} for event in HOOK_EVENTS if event in hooks
    ]


def test_the_stacks_default_hooks_apply_and_user_parameters_replace_or_drop_them_by_event() -> None:
    defaults = "AfterAllowTestTraffic=CodeDeployHook_smoke,AfterAllowTraffic=CodeDeployHook_notify"

    assert render({}, default_hooks=defaults)["appspec.yaml"] == BASE_APPSPEC + (
        'Hooks:\n  - AfterAllowTestTraffic: "CodeDeployHook_smoke"\n  - AfterAllowTraffic: "CodeDeployHook_notify"\n'
    )
    assert render(
        {"hooks": {"AfterAllowTraffic": None, "BeforeInstall": "CodeDeployHook_gate"}}, default_hooks=defaults
    )["appspec.yaml"] == BASE_APPSPEC + (
        'Hooks:\n  - BeforeInstall: "CodeDeployHook_gate"\n  - AfterAllowTestTraffic: "CodeDeployHook_smoke"\n'
    )


def test_the_default_hooks_are_read_from_the_stack_parameter_and_checked_by_blue_green_jobs_only() -> None:
    settings = Settings.from_environment({"IMAGEDEFS_DEFAULT_HOOKS": "AfterInstall=not a function"})
    # A rolling job does not use them
    assert parse_user_parameters("{}", settings).hooks == {}
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters('{"format": "codedeploy"}', settings)
    assert str(raised.value).startswith(
        "The DefaultHooks parameter of the function's stack (environment variable IMAGEDEFS_DEFAULT_HOOKS) for \"Afte"
        'rInstall" is "not a function", which is not a Lambda function name'
    )


@pytest.mark.parametrize(
    ("capacity_provider_strategy", "written"),
    [
        pytest.param(
            (
                {"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 1},
                {"capacityProvider": "FARGATE", "weight": 1, "base": 0},
            ),
            "        CapacityProviderStrategy:\n"
            '          - Base: 1\n            CapacityProvider: "FARGATE_SPOT"\n            Weight: 2\n'
            '          - Base: 0\n            CapacityProvider: "FARGATE"\n            Weight: 1\n',
            id="two providers",
        ),
        pytest.param(
            ({"capacityProvider": "shop-asg"},),
            '        CapacityProviderStrategy:\n          - CapacityProvider: "shop-asg"\n',
            id="a provider without weight or base",
        ),
        pytest.param((), "", id="a service on a launch type has none"),
    ],
)
def test_the_services_capacity_provider_strategy_is_written_into_the_appspec(
    capacity_provider_strategy: tuple[dict[str, Any], ...], written: str
) -> None:
    files = render({}, service(capacity_provider_strategy=capacity_provider_strategy))

    assert files["appspec.yaml"] == BASE_APPSPEC + written


HOSTILE_VALUES = [
    'a": b\n  - c',
    "x: y",
    "#comment",
    "&anchor value",
    "*alias",
    "!!python/object/apply:os.system ['id']",
    "--- \n...\n",
    "'\"\\",
    "null",
    "1.0",
    "Hooks:\n  - BeforeInstall: evil",
    "\t\r\n\u2028\u0085",
    "x" * 10_000,
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_override_values_that_try_to_break_yaml_or_json_are_values_in_both_files(value: str) -> None:
    # Given overrides whose values are YAML and JSON syntax, control characters and a very long text
    overrides = {
        "containers": {
            "web": {"environment": {"GIT_SHA": value}, "dockerLabels": {value[:200]: value}, "command": [value, value]}
        }
    }

    # When the job renders its files
    files = render({"overrides": overrides, "hooks": {"AfterInstall": "CodeDeployHook_x"}})

    # Then both files parse (JSON, and YAML for either) to exactly the structure asked for
    (web, task) = json.loads(files["taskdef.json"])["containerDefinitions"]
    assert web["environment"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
        {"name": "GIT_SHA", "value": value},
    ]
    assert web["dockerLabels"] == {"team": "shop", value[:200]: value}
    assert web["command"] == [value, value]
    assert task == {"name": "task", "image": "old/task"}
    assert yaml.safe_load(files["taskdef.json"]) == json.loads(files["taskdef.json"])
    assert yaml.safe_load(files["appspec.yaml"]) == {
        **yaml.safe_load(BASE_APPSPEC),
        "Hooks": [{"AfterInstall": "CodeDeployHook_x"}],
    }


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_capacity_providers_from_ecs_stay_values_in_appspec_yaml(value: str) -> None:
    files = render({}, service(capacity_provider_strategy=({"capacityProvider": value, "weight": 1},)))

    properties = yaml.safe_load(files["appspec.yaml"])["Resources"][0]["TargetService"]["Properties"]
    assert properties["CapacityProviderStrategy"] == [{"CapacityProvider": value, "Weight": 1}]
    assert set(yaml.safe_load(files["appspec.yaml"])) == {"version", "Resources"}


@pytest.mark.parametrize(
    "function",
    [
        "CodeDeployHook smoke",
        "CodeDeployHook_smoke\n",
        'x"\n  - BeforeInstall: "evil',
        "f" * 65,
        "CodeDeployHook_smoke:",
        "CodeDeployHook_smoke:v1:v2",
        "123456789012:function:CodeDeployHook_smoke",
        "arn:aws:lambda:us-west-2:12345678901:function:CodeDeployHook_smoke",
        "arn:aws:sns:us-west-2:123456789012:function:CodeDeployHook_smoke",
        "",
        "CodeDeployHook_smöke",
    ],
)
def test_a_hook_function_outside_lambdas_grammar_is_refused_naming_the_event(function: str) -> None:
    message = refused({"hooks": {"AfterAllowTestTraffic": function}})

    assert message.startswith('UserParameters "hooks" for "AfterAllowTestTraffic" is "')
    assert (
        "which is not a Lambda function name (1-64 letters, digits, - and _, with an optional :version or :alias)"
        in (message)
    )


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        (
            {"afterAllowTestTraffic": "CodeDeployHook_x"},
            'UserParameters "hooks" names lifecycle event "afterAllowTestTraffic" (ECS deployments spell it '
            '"AfterAllowTestTraffic"), which is not one of an ECS deployment. CodeDeploy\'s are "BeforeInstall", '
            '"AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic".',
        ),
        (
            {"ApplicationStop": "CodeDeployHook_x"},
            'UserParameters "hooks" names lifecycle event "ApplicationStop", which is not one of an ECS deployment.',
        ),
        ({"BeforeInstall": 7}, 'UserParameters "hooks" for "BeforeInstall" is a number, which is not a Lambda'),
        ([], 'UserParameters "hooks" must be a non-empty object mapping CodeDeploy lifecycle events to Lambda'),
        ({}, 'UserParameters "hooks" must be a non-empty object'),
    ],
)
def test_bad_hooks_say_what_codedeploy_takes(hooks: object, message: str) -> None:
    assert refused({"hooks": hooks}).startswith(message)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"web": {"environment": {"X": "1"}}},
            'UserParameters "overrides" has unknown key(s) "web". Valid keys: "containers", "task" (containers go '
            'under "containers", since "task" is a valid container name)',
            id="a container outside containers",
        ),
        pytest.param({}, 'UserParameters "overrides" must be a non-empty object', id="empty"),
        pytest.param("GIT_SHA=1", 'UserParameters "overrides" must be a non-empty object', id="a string"),
        pytest.param(
            {"containers": []},
            'UserParameters "overrides": "containers" must be a non-empty object mapping container names',
            id="containers a list",
        ),
        pytest.param(
            {"containers": {"web.app": {"command": ["x"]}}},
            'UserParameters "overrides" for container "web.app": "web.app" is not a valid ECS container name',
            id="an invalid container name",
        ),
        pytest.param(
            {"containers": {"web": {"secrets": [{"name": "DB", "valueFrom": "arn:x"}]}}},
            'UserParameters "overrides" for container "web" sets "secrets", which cannot be overridden: secrets '
            "widen what a task may read (Secrets Manager, SSM parameters), which belongs to whoever owns the service, "
            "not to a pipeline's UserParameters: change it in the service's task definition.",
            id="secrets",
        ),
        pytest.param(
            {"containers": {"web": {"environmentFiles": []}}},
            'sets "environmentFiles", which cannot be overridden: environment files are read from S3',
            id="environment files",
        ),
        pytest.param(
            {"containers": {"web": {"image": "evil/web"}}},
            'sets "image", which cannot be overridden: images come from the input artifacts or "images"',
            id="image",
        ),
        pytest.param(
            {"task": {"taskRoleArn": "arn:aws:iam::123456789012:role/admin"}},
            'UserParameters "overrides", "task" sets "taskRoleArn", which cannot be overridden: the task role decides '
            "what the task may read and change in AWS, which belongs to whoever owns the service",
            id="task role",
        ),
        pytest.param(
            {"task": {"executionRoleArn": "arn:aws:iam::123456789012:role/admin"}},
            'sets "executionRoleArn", which cannot be overridden: the execution role decides',
            id="execution role",
        ),
        pytest.param(
            {"containers": {"web": {"Environment": {"X": "1"}}}},
            'UserParameters "overrides" for container "web" sets "Environment", which is not a container setting '
            'that can be overridden. Valid keys: "environment", "dockerLabels", "command" (spelled as ECS spells '
            "them).",
            id="a key ECS spells otherwise",
        ),
        pytest.param(
            {"task": {"networkMode": "host"}},
            'UserParameters "overrides", "task" sets "networkMode", which is not a task setting that can be '
            'overridden. Valid keys: "cpu", "memory".',
            id="a task key",
        ),
        pytest.param(
            {"containers": {"web": {"environment": {"PORT": 8080}}}},
            'UserParameters "overrides" for container "web", "environment", variable "PORT" must be a string, not a '
            'number (write it as a string: "8080").',
            id="a number for a variable",
        ),
        pytest.param(
            {"containers": {"web": {"environment": {"A=B": "1"}}}},
            'variable name "A=B" holds "=" or a NUL character, which no environment variable name can hold.',
            id="= in a name",
        ),
        pytest.param(
            {"containers": {"web": {"environment": {"": "1"}}}},
            'UserParameters "overrides" for container "web", "environment": variable name "" is empty.',
            id="an empty name",
        ),
        pytest.param(
            {"containers": {"web": {"environment": {" GIT_SHA": "1"}}}},
            'variable name " GIT_SHA" has whitespace around it',
            id="whitespace around a name",
        ),
        pytest.param(
            {"containers": {"web": {"environment": {"X": "a\u0000b"}}}},
            'variable "X" holds a NUL character, which Docker cannot pass on.',
            id="a NUL in a value",
        ),
        pytest.param(
            {"containers": {"web": {"dockerLabels": {"commit": None}}}},
            '"dockerLabels", label "commit" must be a string, not null.',
            id="a label that is null",
        ),
        pytest.param(
            {"containers": {"web": {"dockerLabels": []}}},
            '"dockerLabels" must be a non-empty object mapping each label to its value',
            id="labels a list",
        ),
        pytest.param(
            {"containers": {"web": {"command": "serve --port 80"}}},
            'UserParameters "overrides" for container "web": "command" must be a non-empty list of strings, one per '
            'argument, for example ["serve", "--port", "8080"], not a string.',
            id="command a string",
        ),
        pytest.param(
            {"containers": {"web": {"command": []}}},
            '"command" must be a non-empty list of strings',
            id="command empty",
        ),
        pytest.param(
            {"containers": {"web": {"command": ["serve", 80]}}},
            '"command" argument 1 must be a string, not a number (write it as a string: "80").',
            id="a number in the command",
        ),
        pytest.param(
            {"task": {"cpu": "64"}},
            'UserParameters "overrides", "task", "cpu" is "64": ECS takes 128 to 196,608 CPU units (0.125 to 192 '
            'vCPU), as units ("512") or vCPUs ("0.5 vCPU").',
            id="cpu below ECS's range",
        ),
        pytest.param(
            {"task": {"cpu": "256 vCPU"}},
            '"cpu" is "256 vCPU": ECS takes 128 to 196,608 CPU units',
            id="cpu above ECS's range",
        ),
        pytest.param(
            {"task": {"cpu": "half"}},
            'UserParameters "overrides", "task", "cpu" is "half": write it as ECS takes it, "512" (CPU units) or '
            '"0.5 vCPU".',
            id="cpu no number",
        ),
        pytest.param(
            {"task": {"memory": "0"}},
            '"memory" is "0": give the task\'s memory in MiB ("1024") or GB ("1 GB"), more than 0.',
            id="memory zero",
        ),
        pytest.param(
            {"task": {"memory": True}},
            '"memory" is a boolean: write it as ECS takes it, "1024" (MiB) or "1 GB".',
            id="memory a boolean",
        ),
        pytest.param({"task": {}}, 'UserParameters "overrides", "task" must be a non-empty object', id="task empty"),
    ],
)
def test_bad_overrides_are_a_configuration_error_naming_them(overrides: object, message: str) -> None:
    assert message in refused({"overrides": overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"containers": {"worker": {"environment": {"X": "1"}}}},
            'UserParameters "overrides" names container(s) "worker", which the task definition shop:3 of ECS service '
            '"prod/shop" does not have. Its containers are "web", "task".',
            id="a container the task definition lacks",
        ),
        pytest.param(
            {"containers": {"web": {"environment": {"DB_PASSWORD": "hunter2", "B": "b"}}}},
            'UserParameters "overrides" for container "web" sets environment variable(s) "DB_PASSWORD", which the '
            'container takes from a secret (its "secrets"): a pipeline cannot replace a secret with plain text.',
            id="a variable the container has as a secret",
        ),
        pytest.param(
            {"task": {"memory": "8192"}},
            'UserParameters "overrides" makes the Fargate task of the task definition shop:3 of ECS service '
            '"prod/shop" cpu "256" with memory "8192", a size Fargate does not run (registering it would fail in the '
            "deploy action). Fargate's sizes (CPU units: MiB): cpu 256: memory 512, 1024, 2048; cpu 512: memory "
            "1024-4096 in steps of 1024;",
            id="a memory the task's Fargate cpu cannot have",
        ),
        pytest.param(
            {"task": {"cpu": "300"}},
            'makes the Fargate task of the task definition shop:3 of ECS service "prod/shop" cpu "300" with memory '
            '"512"',
            id="a cpu Fargate has no size for",
        ),
        pytest.param(
            {"containers": {"web": {"environment": {f"V{index}": "x" * 1000 for index in range(70)}}}},
            'UserParameters "overrides" makes the task definition shop:3 of ECS service "prod/shop" 72,228 bytes long '
            "as JSON; ECS registers task definitions of at most 64 KiB.",
            id="past ECS's 64 KiB task definition",
        ),
    ],
)
def test_overrides_the_task_definition_cannot_take_are_refused_naming_it(overrides: object, message: str) -> None:
    assert message in refused({"overrides": overrides})


def test_fargate_sizes_are_checked_on_fargate_tasks_only_and_every_listed_pair_is_taken() -> None:
    # An EC2 task takes sizes Fargate does not run
    ec2 = {**task_definition(), "requiresCompatibilities": ["EC2"]}
    assert (
        '"memory": "8192"'
        in render({"overrides": {"task": {"memory": "8192"}}}, service(task_definition=ec2))["taskdef.json"]
    )
    # A Fargate task takes each documented pair, in units or vCPU and MiB or GB
    for cpu, memory in (
        ("256", "2048"),
        ("0.5 vCPU", "4GB"),
        ("1 vcpu", "8 GB"),
        ("4096", "30720"),
        ("16384", "122880"),
    ):
        files = render({"overrides": {"task": {"cpu": cpu, "memory": memory}}})
        assert json.loads(files["taskdef.json"])["cpu"] == cpu


@pytest.mark.parametrize("output_format", ["imagedefinitions", "imagedetail"])
@pytest.mark.parametrize("key", ["overrides", "hooks"])
def test_overrides_and_hooks_with_a_format_of_names_and_images_only_say_to_use_codedeploy(
    output_format: str, key: str
) -> None:
    value = {"overrides": {"task": {"cpu": "512"}}, "hooks": {"AfterInstall": "CodeDeployHook_x"}}[key]

    with pytest.raises(ConfigurationError) as raised:
        config_from_mapping({"format": output_format, key: value}, Settings())

    assert str(raised.value) == (
        f'UserParameters "{key}" applies to format "codedeploy" only: format "{output_format}" writes a file holding '
        'only each container\'s name and image. Use format "codedeploy" (taskdef.json and appspec.yaml for the '
        'CodeDeployToECS action), for example {"format": "codedeploy", "service": "prod/web"}.'
    )


def test_overrides_from_resolved_pipeline_variables_are_written_and_an_unresolved_one_is_named() -> None:
    # Given UserParameters as CodePipeline hands them over once #{SourceVariables.CommitId} is resolved
    commit = "4f2a9c1e0b7d3a6f8e5c2b1a0d9e8f7c6b5a4d3e"
    overrides = {"containers": {"web": {"environment": {"GIT_SHA": commit}, "dockerLabels": {"commit": commit}}}}

    files = render({"overrides": overrides})

    (web, _) = json.loads(files["taskdef.json"])["containerDefinitions"]
    assert web["environment"][-1] == {"name": "GIT_SHA", "value": commit}
    assert web["dockerLabels"] == {"team": "shop", "commit": commit}
    # And a variable CodePipeline left unresolved is refused, naming it
    unresolved = {"containers": {"web": {"dockerLabels": {"commit": "#{SourceVariables.CommitId}"}}}}
    assert refused({"overrides": unresolved}).startswith(
        'UserParameters "overrides" holds "#{SourceVariables.CommitId}", a pipeline variable that CodePipeline did '
        "not resolve"
    )


def test_fargate_sizes_are_checked_only_when_the_overrides_change_the_size() -> None:
    # Given a Fargate task whose live size this function's table does not list (ECS took it; sizes change)
    odd_size = {**task_definition(), "cpu": "256", "memory": "8192"}
    overrides = {"containers": {"web": {"environment": {"X": "1"}}}}

    # Then an override of anything else leaves the size alone, and a size override is checked with the live other
    assert render({"overrides": overrides}, service(task_definition=odd_size))["taskdef.json"].endswith(
        '"cpu": "256",\n  "memory": "8192"\n}\n'
    )
    assert 'cpu "512" with memory "8192", a size Fargate does not run' in refused(
        {"overrides": {"task": {"cpu": "512"}}}, service(task_definition=odd_size)
    )
    # And without a live memory to compare with, the cpu alone is written
    no_memory = {key: value for key, value in task_definition().items() if key != "memory"}
    assert (
        '"cpu": "1024"'
        in render({"overrides": {"task": {"cpu": "1024"}}}, service(task_definition=no_memory))["taskdef.json"]
    )


@pytest.mark.parametrize(
    ("container", "message"),
    [
        ({"environment": "A=1"}, 'its "environment" is not a list of objects'),
        ({"environment": [], "secrets": ["DB_PASSWORD"]}, 'its "secrets" is not a list of objects'),
        ({"dockerLabels": ["team=shop"]}, 'its "dockerLabels" are not an object'),
    ],
)
def test_a_live_container_ecs_would_not_describe_so_is_named(container: dict[str, Any], message: str) -> None:
    odd = task_definition()
    odd["containerDefinitions"][0] = {"name": "web", "image": "old/web", **container}
    overrides = {"containers": {"web": {"environment": {"X": "1"}, "dockerLabels": {"commit": "4f2a"}}}}

    assert refused({"overrides": overrides}, service(task_definition=odd)) == (
        f'Container "web" of the task definition shop:3 of ECS service "prod/shop": {message}'
        + (" as ECS gives them." if "dockerLabels" in message else ", as ECS describes it.")
    )
