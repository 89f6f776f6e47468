"""Split the plugin's argv into docker's global options and cilo's own arguments.

The docker CLI runs a plugin as `docker-cilo [global docker options...] cilo ARGS...`
(e.g. `docker --context ctx cilo list` gives `--context ctx cilo list`). Run directly,
`docker-cilo ARGS...` works too.
"""

from __future__ import annotations

from .dockeropts import DockerOptions
from .errors import UsageError

# docker global options that take a value, by every spelling the docker CLI accepts
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
_FLAG_OPTS = {"--tls": "tls", "--tlsverify": "tlsverify", "-D": None, "--debug": None}


def split(argv: list[str]) -> tuple[DockerOptions, list[str]]:
    """(docker's global options, the arguments after `cilo`)."""
    if "cilo" not in argv:
        return DockerOptions(), argv
    values: dict[str, object] = {}
    i = 0
    while i < len(argv) and argv[i] != "cilo":
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        if name in _VALUE_OPTS:
            if eq:
                value = inline
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise UsageError(f"docker option {name} needs a value")
            values[_VALUE_OPTS[name]] = value
        elif arg in _FLAG_OPTS:
            if _FLAG_OPTS[arg]:
                values[_FLAG_OPTS[arg]] = True
        else:
            # Not a docker global option: this is a direct call whose args contain "cilo".
            return DockerOptions(), argv
        i += 1
    return DockerOptions(**values), argv[i + 1 :]  # type: ignore[arg-type]
