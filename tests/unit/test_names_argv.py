from __future__ import annotations

import pytest

from compose_cilo.argv import split
from compose_cilo.engine import DockerOptions
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


def test_plain_and_direct_calls() -> None:
    assert split(["cilo", "up", "dev"]) == (DockerOptions(), ["up", "dev"])
    assert split(["up", "dev"]) == (DockerOptions(), ["up", "dev"])
    # "cilo" as an argument of a direct call is not the plugin marker
    assert split(["run", "dev", "echo", "cilo"]) == (DockerOptions(), ["run", "dev", "echo", "cilo"])
