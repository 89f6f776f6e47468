from __future__ import annotations

import re

import pytest

from compose_cilo.cli.argv import split
from compose_cilo.engine.options import DockerOptions
from compose_cilo.errors import UsageError
from compose_cilo.names import check_env_name, compose_project_name, project_dns_label


@pytest.mark.parametrize("name", ["a", "dev", "feature-x", "a1-b2", "x" * 63, "0"])
def test_good_env_names(name: str) -> None:
    assert check_env_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"), ("Dev", "uppercase"), ("a.b", "only lowercase"), ("..", "only lowercase"),
        ("a/b", "only lowercase"), ("-x", "starts or ends"), ("x-", "starts or ends"),
        ("x" * 64, "64 characters"), ("a b", "only lowercase"), ("héllo", "only lowercase"),
        ("a_b", "only lowercase"), ("a\nb", "only lowercase"),
    ],
)
def test_bad_env_names(name: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem) as err:
        check_env_name(name)
    assert "DNS label" in str(err.value)


def test_compose_project_name_is_unique_per_pair() -> None:
    assert compose_project_name("a_b", "c") != compose_project_name("a", "b-c")
    assert project_dns_label("my_shop") == "my-shop"


def test_plugin_argv_with_global_options() -> None:
    opts, args = split(["--context", "ctx", "-H=unix:///x.sock", "--tls", "cilo", "list", "--all"])
    assert opts == DockerOptions(context="ctx", host="unix:///x.sock", tls=True)
    assert args == ["list", "--all"]
    assert opts.argv()[1:] == ["--context", "ctx", "--host", "unix:///x.sock", "--tls"]


@pytest.mark.parametrize(("docker_args", "expected"), [
    (["-Htcp://h:2375"], DockerOptions(host="tcp://h:2375")),
    (["-H=tcp://h:2375"], DockerOptions(host="tcp://h:2375")),
    (["--host=tcp://h:2375"], DockerOptions(host="tcp://h:2375")),
    (["--host", "tcp://h:2375"], DockerOptions(host="tcp://h:2375")),
    (["-cprod"], DockerOptions(context="prod")),
    (["-c", "cilo"], DockerOptions(context="cilo")),  # a context named like the plugin
    (["-DHunix:///x"], DockerOptions(host="unix:///x")),  # combined shorthands, as pflag
    (["-Dc", "prod"], DockerOptions(context="prod")),
    (["-D=false", "--debug=true"], DockerOptions()),
    (["--tlsverify=false"], DockerOptions(tlsverify=False)),
    (["--tls=1", "--tlsverify=T"], DockerOptions(tls=True, tlsverify=True)),
    (["-lerror", "--config=/c", "--tlscacert=/ca"],
     DockerOptions(log_level="error", config="/c", tlscacert="/ca")),
])
def test_docker_option_forms(docker_args: list[str], expected: DockerOptions) -> None:
    assert split([*docker_args, "cilo", "list"]) == (expected, ["list"])


def test_explicit_false_reaches_docker_and_compose() -> None:
    opts, _ = split(["--tlsverify=false", "cilo", "list"])
    assert opts.argv()[1:] == ["--tlsverify=false"]


@pytest.mark.parametrize(("docker_args", "message"), [
    (["--tlsverify=maybe"], "docker option --tlsverify='maybe' is not true or false"),
    (["-D=yes"], "docker option -D='yes' is not true or false"),
])
def test_bad_docker_options_are_usage_errors(docker_args: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        split([*docker_args, "cilo", "list"])


def test_a_value_option_at_the_end_is_a_direct_call() -> None:
    # `--context cilo` consumed the marker: no plugin call, the args are cilo's own
    assert split(["--context", "cilo"]) == (DockerOptions(), ["--context", "cilo"])
    assert split(["-x", "cilo", "list"]) == (DockerOptions(), ["-x", "cilo", "list"])


def test_plain_and_direct_calls() -> None:
    assert split(["cilo", "up", "dev"]) == (DockerOptions(), ["up", "dev"])
    assert split(["up", "dev"]) == (DockerOptions(), ["up", "dev"])
    # "cilo" as an argument of a direct call is not the plugin marker
    assert split(["run", "dev", "echo", "cilo"]) == (DockerOptions(), ["run", "dev", "echo", "cilo"])


def test_long_project_names_give_valid_distinct_dns_labels() -> None:
    """Issue 10: a 64-character name with '-' or '_' at position 63 made an invalid label."""
    from compose_cilo.dns.labels import is_dns_label
    from compose_cilo.names import project_dns_label

    first = "a" * 62 + "_b"
    second = "a" * 62 + "_c"
    assert is_dns_label(project_dns_label(first)) and is_dns_label(project_dns_label(second))
    assert project_dns_label(first) != project_dns_label(second)
    assert project_dns_label("shop_api") == "shop-api"  # short names are as before
    assert project_dns_label("a" * 63) == "a" * 63


def test_paths_that_are_not_utf8_survive_a_label() -> None:
    import os

    from compose_cilo.names import label_path, path_from_label

    odd = os.fsdecode(b"/src/caf\xe9")
    label = label_path(odd)
    label.encode("utf-8")  # YAML and compose take it
    assert label.startswith("b64:") and path_from_label(label) == odd
    assert label_path("/src/café") == "/src/café" == path_from_label("/src/café")
