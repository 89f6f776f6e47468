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


def test_long_project_names_give_valid_distinct_dns_labels() -> None:
    """Issue 10: a 64-character name with '-' or '_' at position 63 made an invalid label."""
    from compose_cilo.dnsnames import is_dns_label
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
