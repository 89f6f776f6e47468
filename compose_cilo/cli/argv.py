"""Split the plugin's argv into docker's global options and cilo's own arguments.

The docker CLI runs a plugin as `docker-cilo [global docker options...] cilo ARGS...`
(e.g. `docker --context ctx cilo list` gives `--context ctx cilo list`), passing the
global options as the user typed them. They are read as docker reads them (cobra's
pflag): `--host tcp://h`, `--host=tcp://h`, `-H tcp://h`, `-H=tcp://h`, `-Htcp://h`,
combined short flags (`-DHtcp://h`), and booleans as `--tls`, `--tls=false`, `-D=true`.
Run directly, `docker-cilo ARGS...` works too.
"""

from __future__ import annotations

from ..engine.options import DockerOptions
from ..errors import UsageError

# docker's global options that take a value, by every spelling the docker CLI accepts
_VALUE_OPTS = {
    "--config": "config",
    "-c": "context",
    "--context": "context",
    "-H": "host",
    "--host": "host",
    "-l": "log_level",
    "--log-level": "log_level",
    "--tlscacert": "tlscacert",
    "--tlscert": "tlscert",
    "--tlskey": "tlskey",
}
# boolean ones (None: accepted, not passed on)
_FLAG_OPTS = {"--tls": "tls", "--tlsverify": "tlsverify", "-D": None, "--debug": None}
# Go's strconv.ParseBool, which pflag uses for `--flag=VALUE`
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


class _NotDocker(Exception):
    """An argument that is not a docker global option: this is a direct call."""


def split(argv: list[str]) -> tuple[DockerOptions, list[str]]:
    """(docker's global options, the arguments after `cilo`)."""
    if "cilo" not in argv:
        return DockerOptions(), argv
    values: dict[str, object] = {}
    i = 0
    try:
        while i < len(argv) and argv[i] != "cilo":
            i = _take(argv, i, values)
    except _NotDocker:
        return DockerOptions(), argv
    if i == len(argv):  # "cilo" was an option's value (`--context cilo`): a direct call
        return DockerOptions(), argv
    return DockerOptions(**values), argv[i + 1 :]  # type: ignore[arg-type]


def _take(argv: list[str], i: int, values: dict[str, object]) -> int:
    """Read the docker option at argv[i] into `values`; the index of the next argument."""
    arg = argv[i]
    if arg.startswith("--"):
        name, eq, inline = arg.partition("=")
        if name in _VALUE_OPTS:
            if eq:
                values[_VALUE_OPTS[name]] = inline
                return i + 1
            return _value_of(argv, i, name, values)
        if name in _FLAG_OPTS:
            _set_flag(name, inline if eq else "true", values)
            return i + 1
        raise _NotDocker
    if arg.startswith("-") and len(arg) > 1:
        # shorthands: bool ones may be combined; a value one takes the rest of the word
        for pos in range(1, len(arg)):
            name = "-" + arg[pos]
            rest = arg[pos + 1 :]
            if name in _FLAG_OPTS:
                if rest.startswith("="):
                    _set_flag(name, rest[1:], values)
                    return i + 1
                _set_flag(name, "true", values)
                continue
            if name in _VALUE_OPTS:
                if rest:
                    values[_VALUE_OPTS[name]] = rest.removeprefix("=")
                    return i + 1
                return _value_of(argv, i, name, values)
            raise _NotDocker
        return i + 1
    raise _NotDocker


def _value_of(argv: list[str], i: int, name: str, values: dict[str, object]) -> int:
    if i + 1 >= len(argv):
        raise UsageError(f"docker option {name} needs a value, e.g. {name} VALUE before cilo")
    values[_VALUE_OPTS[name]] = argv[i + 1]
    return i + 2


def _set_flag(name: str, text: str, values: dict[str, object]) -> None:
    if text not in _BOOLS:
        raise UsageError(f"docker option {name}={text!r} is not true or false; "
                         f"write {name} or {name}=false")
    if key := _FLAG_OPTS[name]:
        values[key] = _BOOLS[text]
