"""UserParameters and the function's settings: every bad value is refused with a message that says how to fix it."""

from __future__ import annotations

import json

import pytest

from imagedefs.config import EcsService, Settings, parse_user_parameters
from imagedefs.errors import ConfigurationError


def test_no_user_parameters_means_the_documented_defaults() -> None:
    config = parse_user_parameters(None, Settings())
    assert (config.containers, config.pin, config.tag_pattern, config.outputs) == (None, "tag", None, None)
    assert (config.output_format, config.file_name) == ("imagedefinitions", "imagedefinitions.json")


def test_every_key_is_read() -> None:
    config = parse_user_parameters(
        '{"containers": {"A": "web"}, "pin": "digest", "tag": "v.*", "outputs": {"Out": ["web"]},'
        ' "format": "imagedetail", "file": "web.json"}',
        Settings(),
    )
    assert config.containers == {"A": ("web",)}
    assert config.pin == "digest"
    assert config.tag_pattern is not None and config.tag_pattern.text == "v.*"
    assert config.outputs == {"Out": ("web",)}
    assert (config.output_format, config.file_name) == ("imagedetail", "web.json")


def test_imagedetail_format_defaults_its_file_name() -> None:
    assert parse_user_parameters('{"format": "imagedetail"}', Settings()).file_name == "imageDetail.json"


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("prod/web", EcsService("prod", "web")),
        (
            "arn:aws:ecs:eu-west-1:123456789012:service/prod-eu/web_v2",
            EcsService("prod-eu", "web_v2", arn="arn:aws:ecs:eu-west-1:123456789012:service/prod-eu/web_v2"),
        ),
    ],
)
def test_the_codedeploy_service_is_a_cluster_and_name_or_an_arn(service: str, expected: EcsService) -> None:
    config = parse_user_parameters(json.dumps({"format": "codedeploy", "service": service}), Settings())
    assert (config.output_format, config.service) == ("codedeploy", expected)


@pytest.mark.parametrize("parameters", [{"service": "prod/web"}, {"format": "imagedefinitions", "service": "prod/web"}])
def test_a_rolling_job_may_name_the_service_its_containers_are_checked_against(parameters: dict[str, str]) -> None:
    config = parse_user_parameters(json.dumps(parameters), Settings())
    assert (config.output_format, config.service) == ("imagedefinitions", EcsService("prod", "web"))


def test_the_ecs_services_the_function_may_read_come_from_the_stack() -> None:
    arns = " arn:aws:ecs:us-west-2:123456789012:service/prod/web , arn:aws:ecs:us-west-2:123456789012:service/prod/api,"
    settings = Settings.from_environment({"IMAGEDEFS_ECS_SERVICES": arns})
    assert settings.ecs_services == (
        "arn:aws:ecs:us-west-2:123456789012:service/prod/web",
        "arn:aws:ecs:us-west-2:123456789012:service/prod/api",
    )
    assert Settings.from_environment({}).ecs_services == ()


def test_function_settings_are_the_defaults_and_user_parameters_win() -> None:
    settings = Settings.from_environment({"IMAGEDEFS_DEFAULT_PIN": "digest", "IMAGEDEFS_DEFAULT_TAG_PATTERN": "v.*"})
    assert parse_user_parameters(None, settings).pin == "digest"
    assert parse_user_parameters('{"pin": "tag", "tag": "r.*"}', settings).tag_pattern.text == "r.*"  # type: ignore[union-attr]


def test_containers_take_a_name_or_a_list_of_names() -> None:
    config = parse_user_parameters('{"containers": {"A": "web", "B": ["api", "worker"]}}', Settings())
    assert config.containers == {"A": ("web",), "B": ("api", "worker")}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"pinned": "digest"}', 'unknown key(s) "pinned". Valid keys: "containers", "pin", "tag", "outputs"'),
        ("{not json", "UserParameters is not valid JSON (Expecting property name"),
        ('"digest"', "must be a JSON object"),
        ('{"pin": "sha"}', '"pin" is "sha": it must be one of "tag", "digest"'),
        ('{"format": "yaml"}', '"format" is "yaml": it must be one of "imagedefinitions", "imagedetail", "codedeploy"'),
        ('{"tag": "v[0-9"}', 'UserParameters "tag" is not a valid regular expression'),
        ('{"tag": 3}', 'UserParameters "tag" must be a string'),
        ('{"containers": []}', '"containers" must be a non-empty object'),
        ('{"containers": {"A": "web app"}}', 'gives artifact "A" "web app", which is not a valid ECS container name'),
        ('{"containers": {"A": []}}', 'gives artifact "A" [], which is not a valid ECS container name nor a non-empty'),
        ('{"containers": {"A": ["web", 5]}}', 'gives artifact "A" ["web", 5], which is not a valid ECS container'),
        ('{"containers": {"A": "web", "B": "web"}}', 'for both "A" and "B": each container must come from one'),
        ('{"containers": {"A": ["web", "web"]}}', 'names container "web" for both "A" and "A" (twice)'),
        ('{"pin": "tag", "pin": "digest"}', 'ambiguous: key "pin" appears more than once'),
        ('{"containers": {"A": "web", "A": "api"}}', 'ambiguous: key "A" appears more than once'),
        ('{"pin": NaN}', "UserParameters is not valid JSON: it holds NaN"),
        ('{"pin": ' + "9" * 900 + "}", "holds a number 900 characters long"),
        (r'{"caf\u00e9": 1}', r'unknown key(s) "caf\u00e9"'),
        ('{"outputs": {"Out": "web"}}', 'gives output artifact "Out" "web": it must be a non-empty list'),
        ('{"outputs": {"Out": ["web", "web"]}}', 'lists a container twice for output artifact "Out"'),
        ('{"file": "../imagedefinitions.json"}', '"file" is "../imagedefinitions.json": it must be a plain file name'),
        ('{"containers": {}}', '"containers" must be a non-empty object'),
        ('{"outputs": {}}', '"outputs" must be a non-empty object'),
        ('{"outputs": {"Out": []}}', 'gives output artifact "Out" []: it must be a non-empty list'),
        ('{"outputs": {"Out": ["web app"]}}', 'gives output artifact "Out" ["web app"]'),
        ('{"outputs": {"Out": [7]}}', 'gives output artifact "Out" [7]'),
        ('{"outputs": ["web"]}', '"outputs" must be a non-empty object mapping output artifact names'),
        ('{"outputs": ["web"]}', '"ApiDefinitions": ["api"]}}, not a list.'),
        ("{" + " " * 65_536 + "}", "the function reads at most 65,536 (MAX_USER_PARAMETERS_LENGTH)"),
        ('{"format": "codedeploy", "service": "web"}', '"service" is "web": it must be <cluster>/<service> or the'),
        ('{"format": "codedeploy", "service": "arn:aws:ecs:us-west-2:123456789012:service/web"}', "must be <cluster>/"),
        ('{"format": "codedeploy", "service": 5}', 'UserParameters "service" is 5: it must be'),
        ('{"format": "codedeploy", "file": "td.json"}', '"file" does not apply to format "codedeploy", which writes'),
        (
            '{"format": "imagedetail", "service": "prod/web"}',
            'UserParameters "service" applies to formats "imagedefinitions" (a rolling deploy: every container is '
            'checked against the service) and "codedeploy"',
        ),
        ('{"service": "web"}', 'UserParameters "service" is "web": it must be <cluster>/<service> or the'),
        ('{"service": ["prod/web"]}', 'UserParameters "service" is ["prod/web"]: it must be'),
    ],
)
def test_bad_user_parameters_say_what_to_fix(raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(raw, Settings())
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"IMAGEDEFS_DEFAULT_PIN": "sha"},
            'DefaultPin parameter of the function\'s stack (environment variable IMAGEDEFS_DEFAULT_PIN) is "sha"',
        ),
        (
            {"IMAGEDEFS_DEFAULT_TAG_PATTERN": "("},
            "(environment variable IMAGEDEFS_DEFAULT_TAG_PATTERN) is not a valid regular",
        ),
        (
            {"IMAGEDEFS_VERIFY_IMAGES": "yes"},
            'VerifyImages parameter of the function\'s stack (environment variable IMAGEDEFS_VERIFY_IMAGES) is "yes": '
            'it must be "true" or "false"',
        ),
        (
            {"IMAGEDEFS_FAIL_ON_SEVERITY": "SEVERE"},
            "FailOnSeverity parameter of the function's stack (environment variable IMAGEDEFS_FAIL_ON_SEVERITY) is "
            '"SEVERE": it must be empty or one of "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"',
        ),
        (
            {"IMAGEDEFS_ALLOWED_REGISTRIES": "ghcr.io, not a host"},
            "AllowedRegistries parameter of the function's stack (environment variable IMAGEDEFS_ALLOWED_REGISTRIES) "
            'holds "not a host"',
        ),
    ],
)
def test_bad_function_settings_name_the_stack_parameter(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match="function") as raised:
        Settings.from_environment(environ)
    assert message in str(raised.value)


def test_allow_list_entries_are_trimmed() -> None:
    settings = Settings.from_environment({"IMAGEDEFS_ALLOWED_REGISTRIES": " ghcr.io , 123456789012:eu-west-1 ,"})
    assert [rule.text for rule in settings.allowed_registries] == ["ghcr.io", "123456789012:eu-west-1"]


@pytest.mark.parametrize(
    ("value", "kind"),
    [("[]", "a list"), ('"web"', "a string"), ("true", "a boolean"), ("5", "a number"), ("1.5", "a number")],
)
def test_a_containers_value_of_the_wrong_kind_is_named(value: str, kind: str) -> None:
    # Given "containers" that is no object; When it is parsed; Then the message says what was found instead
    with pytest.raises(ConfigurationError, match=f'"containers" must be a non-empty object.*, not {kind}\\.$'):
        parse_user_parameters(f'{{"containers": {value}}}', Settings())


@pytest.mark.parametrize("file_name", ["", ".", "..", "a/b.json", "a\\b.json", "x\0.json", "f" * 256, 5, []])
def test_a_file_name_that_is_no_plain_file_name_is_refused(file_name: object) -> None:
    # Given "file" values that would not be one file at the top of the zip (or are no string)
    raw = json.dumps({"file": file_name})
    # When UserParameters are parsed; Then the key is named and the default is offered as the example
    with pytest.raises(ConfigurationError, match=r'UserParameters "file" is .*"imagedefinitions.json"\.$'):
        parse_user_parameters(raw, Settings())


@pytest.mark.parametrize("file_name", ["f" * 255, "a", ".env", "...", "web definitions.json", "Xylophone.json"])
def test_any_plain_file_name_up_to_255_characters_is_taken(file_name: str) -> None:
    assert parse_user_parameters(json.dumps({"file": file_name}), Settings()).file_name == file_name


def test_empty_user_parameters_mean_no_parameters() -> None:
    # Given a configuration field left empty or blank, as the console saves it
    for raw in ("", "  \n"):
        # Then it is the defaults, not "invalid JSON"
        assert parse_user_parameters(raw, Settings()) == parse_user_parameters(None, Settings())


def test_user_parameters_of_exactly_1000_characters_are_read() -> None:
    raw = '{"pin": "digest"' + " " * (1000 - 17) + "}"
    assert len(raw) == 1000
    assert parse_user_parameters(raw, Settings()).pin == "digest"


@pytest.mark.parametrize(("raw", "kind"), [("null", "null"), ("[]", "a list"), ('"x"', "a string")])
def test_user_parameters_that_are_no_object_say_what_they_are(raw: str, kind: str) -> None:
    with pytest.raises(ConfigurationError, match=f"must be a JSON object .*, not {kind}\\.$"):
        parse_user_parameters(raw, Settings())


def test_a_tag_that_is_an_object_says_so() -> None:
    with pytest.raises(ConfigurationError, match=r'^UserParameters "tag" must be a string .*, not an object\.$'):
        parse_user_parameters('{"tag": {}}', Settings())


def test_a_bad_stack_parameter_starts_the_message_with_its_name() -> None:
    with pytest.raises(ConfigurationError, match=r"^The DefaultPin parameter of the function's stack"):
        Settings.from_environment({"IMAGEDEFS_DEFAULT_PIN": "sha"})


def test_stack_defaults_are_trimmed_and_empty_means_the_documented_default() -> None:
    assert Settings.from_environment({"IMAGEDEFS_DEFAULT_PIN": " digest "}).default_pin == "digest"
    settings = Settings.from_environment({"IMAGEDEFS_DEFAULT_PIN": "", "IMAGEDEFS_DEFAULT_TAG_PATTERN": ""})
    assert (settings.default_pin, settings.default_tag_pattern, settings.allowed_registries) == ("tag", None, ())


def test_an_empty_tag_in_user_parameters_keeps_the_stacks_default_pattern() -> None:
    settings = Settings.from_environment({"IMAGEDEFS_DEFAULT_TAG_PATTERN": "v.*"})
    pattern = parse_user_parameters('{"tag": ""}', settings).tag_pattern
    assert pattern is not None
    assert (pattern.text, pattern.source) == ("v.*", settings.wording.settings.default_tag_pattern)


@pytest.mark.parametrize(
    ("rule", "registry", "allowed"),
    [
        ("123456789012", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", True),
        ("123456789012", "210987654321.dkr.ecr.eu-west-1.amazonaws.com", False),
        ("123456789012", "123456789012.example.com", False),
        ("123456789012:eu-west-1", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", True),
        ("123456789012:eu-west-1", "123456789012.dkr.ecr.us-east-1.amazonaws.com", False),
        ("123456789012:cn-north-1", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", True),
        ("ghcr.io", "GHCR.io", True),
        ("ghcr.io", "ghcr.io.evil.example", False),
    ],
)
def test_an_allow_list_rule_is_an_account_an_account_and_region_or_a_host(
    rule: str, registry: str, allowed: bool
) -> None:
    settings = Settings.from_environment({"IMAGEDEFS_ALLOWED_REGISTRIES": f"{rule},quay.io"})
    assert settings.registry_allowed(registry) is allowed
    assert settings.registry_allowed("quay.io")


def test_messages_about_containers_and_outputs_show_an_example_to_copy() -> None:
    with pytest.raises(ConfigurationError) as containers:
        parse_user_parameters('{"containers": {"A": 5}}', Settings())
    assert 'for example {"containers": {"WebImage": "web", "ApiImage": ["api", "worker"]}}' in str(containers.value)
    with pytest.raises(ConfigurationError) as outputs:
        parse_user_parameters('{"outputs": {"A": 5}}', Settings())
    assert 'for example {"outputs": {"WebDefinitions": ["web"], "ApiDefinitions": ["api"]}}' in str(outputs.value)


def test_a_bad_allow_list_entry_says_what_an_entry_may_be() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment({"IMAGEDEFS_ALLOWED_REGISTRIES": "123456789012:Mars"})
    message = str(raised.value)
    assert 'holds "123456789012:Mars", which is neither a registry host (123456789012.dkr.ecr.' in message
    assert "nor an account (123456789012) or account:region (123456789012:eu-west-1)" in message


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ('{"file": "\\ud800"}', 'the string at "file"'),
        ('{"file": "a\\udfffb.json"}', 'the string at "file"'),
        ('{"format": "\\ud800"}', 'the string at "format"'),
        ('{"pin": "\\udc00"}', 'the string at "pin"'),
        ('{"tag": "v\\ud800.*"}', 'the string at "tag"'),
        ('{"format": "codedeploy", "service": "prod/\\ud800"}', 'the string at "service"'),
        ('{"containers": {"Web\\ud800": "web"}}', 'a key of the object at "containers"'),
        ('{"containers": {"WebImage": "w\\ud800"}}', 'the string at "containers.WebImage"'),
        ('{"containers": {"WebImage": ["web", "\\ud800"]}}', 'the string at "containers.WebImage[1]"'),
        ('{"outputs": {"Out\\ud800": ["web"]}}', 'a key of the object at "outputs"'),
        ('{"outputs": {"Out": ["\\ud800"]}}', 'the string at "outputs.Out[0]"'),
        ('{"\\ud800": 1}', "a key of the top-level object"),
        ('{"pin": "tag", "unknown": {"deep": ["\\ud800"]}}', 'the string at "unknown.deep[0]"'),
        ('{"file": "\ud800"}', 'the string at "file"'),  # the character itself, not its escape
    ],
)
def test_a_string_with_an_unpaired_surrogate_is_a_configuration_error_naming_where(raw: str, where: str) -> None:
    # Given UserParameters holding a string no UTF-8 encoder takes (a zip member name, a log line, a report)
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(raw, Settings())
    # Then the message says where it is, without the surrogate itself (the message must encode, too)
    message = str(raised.value)
    assert message.startswith(f"UserParameters is not valid Unicode: {where} holds an unpaired surrogate")
    message.encode("utf-8")


def test_a_valid_surrogate_pair_is_a_character_like_any_other() -> None:
    config = parse_user_parameters('{"file": "defs-\\ud83d\\ude00.json"}', Settings())
    assert config.file_name == "defs-\U0001f600.json"


@pytest.mark.parametrize(
    ("variable", "parameter"),
    [
        ("IMAGEDEFS_DEFAULT_PIN", "DefaultPin"),
        ("IMAGEDEFS_DEFAULT_TAG_PATTERN", "DefaultTagPattern"),
        ("IMAGEDEFS_ALLOWED_REGISTRIES", "AllowedRegistries"),
        ("IMAGEDEFS_ECS_SERVICES", "EcsServiceArns"),
        ("IMAGEDEFS_DEFAULT_HOOKS", "DefaultHooks"),
    ],
)
def test_a_function_setting_that_is_not_utf8_names_the_stack_parameter(variable: str, parameter: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment({variable: "v\udcff"})
    assert str(raised.value).startswith(f"The {parameter} parameter of the function's stack")
    assert str(raised.value).endswith("is not valid UTF-8 text; set it again.")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"verify": "true"}', 'UserParameters "verify" must be true or false (JSON, not a string), not a string.'),
        ('{"verify": 1}', 'UserParameters "verify" must be true or false'),
        (
            '{"failOnSeverity": "critical"}',
            'UserParameters "failOnSeverity" is "critical": it must be one of "INFORMATIONAL", "LOW", "MEDIUM", '
            '"HIGH", "CRITICAL" (findings of that severity or above fail the job).',
        ),
        ('{"failOnSeverity": "UNDEFINED"}', 'UserParameters "failOnSeverity" is "UNDEFINED": it must be one of'),
        ('{"failOnSeverity": ["HIGH"]}', 'UserParameters "failOnSeverity" is ["HIGH"]: it must be one of'),
        ('{"failOnSeverity": "#{Scan.Level}"}', 'UserParameters "failOnSeverity" holds "#{Scan.Level}", a pipeline'),
    ],
)
def test_bad_gate_parameters_say_what_to_fix(raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(raw, Settings())
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("environ", "raw", "verify", "severity"),
    [
        ({}, "{}", False, None),
        ({"IMAGEDEFS_VERIFY_IMAGES": "true", "IMAGEDEFS_FAIL_ON_SEVERITY": "HIGH"}, "{}", True, "HIGH"),
        ({"IMAGEDEFS_FAIL_ON_SEVERITY": "high"}, '{"failOnSeverity": "MEDIUM"}', False, "MEDIUM"),
        ({"IMAGEDEFS_FAIL_ON_SEVERITY": "HIGH"}, '{"failOnSeverity": "HIGH", "verify": true}', True, "HIGH"),
        ({"IMAGEDEFS_VERIFY_IMAGES": "TRUE"}, '{"verify": true}', True, None),
    ],
    ids=["no gate", "the stack's floors", "an action stricter", "an action as strict", "verify twice"],
)
def test_the_stacks_gate_settings_are_floors_an_action_may_raise(
    environ: dict[str, str], raw: str, verify: bool, severity: str | None
) -> None:
    config = parse_user_parameters(raw, Settings.from_environment(environ))
    assert (config.verify, config.fail_on_severity) == (verify, severity)


@pytest.mark.parametrize(
    ("environ", "raw", "message"),
    [
        (
            {"IMAGEDEFS_VERIFY_IMAGES": "true"},
            '{"verify": false}',
            'UserParameters "verify" is false, but the VerifyImages parameter of the function\'s stack (environment '
            "variable IMAGEDEFS_VERIFY_IMAGES) is true: every action of this function has its images looked up in ECR, "
            'and no action can turn that off. Remove UserParameters "verify", or ask whoever deploys the function.',
        ),
        (
            {"IMAGEDEFS_FAIL_ON_SEVERITY": "HIGH"},
            '{"failOnSeverity": "CRITICAL"}',
            'UserParameters "failOnSeverity" is "CRITICAL", but the FailOnSeverity parameter of the function\'s stack '
            '(environment variable IMAGEDEFS_FAIL_ON_SEVERITY) is "HIGH": every action of this function fails on '
            'HIGH findings or above, and an action may only be stricter. Give "HIGH" or a lower severity, or remove '
            "the key.",
        ),
    ],
    ids=["verify turned off", "a higher severity"],
)
def test_an_action_cannot_loosen_the_stacks_gate(environ: dict[str, str], raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(raw, Settings.from_environment(environ))
    assert str(raised.value) == message
