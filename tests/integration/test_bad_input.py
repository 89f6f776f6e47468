"""Hostile or broken input: a clear message, a non-zero exit, and nothing changed.

Each case runs one `docker cilo` command in a sandbox (a copy of the plain project named
`bad<unique>`, a cilo home holding one valid environment) and asserts: the exit status is
non-zero, stderr holds the expected message and no traceback, stdout is empty, every
file under the sandbox (state, lock, cilo home, project) is byte-identical, and the
engine holds no container, network or volume of the project before or after.

In messages and file contents, {p} is the project name, {dir} the project folder,
{state} the state file, {home} the cilo home and {shared} a folder mode 0777 (no sticky bit).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from compose_cilo.state.migrations import LATEST
from tests.conftest import PROJECTS, Cilo

pytestmark = pytest.mark.engine

NO_ENGINE = (("DOCKER_HOST", "unix:///nonexistent.sock"),)
ENV_RULE = r"use a DNS label: lowercase letters, digits and '-', 1-63 characters"
BAD_PROJECT = r"project name \"{0}\" is not a valid compose project name"


@dataclass(frozen=True)
class Bad:
    args: tuple[str, ...]
    message: str  # a regex for stderr, after filling in {p}, {dir}, {state}, {home}
    code: int | None = None  # the exact exit status where it matters (usage errors: 2)
    state: str | bytes | None = None  # the state file's content; None: a valid one
    compose: str | None = None  # replaces the project's compose.yaml
    env: tuple[tuple[str, str], ...] = ()
    docker_args: tuple[str, ...] = ()
    hold_lock: bool = False
    cwd: str = "project"  # or "empty": a folder without any compose file
    dotenv: str | bytes | None = None  # the project's .env file


def case(id: str, *args: str, message: str, **kw: object) -> object:
    return pytest.param(Bad(tuple(args), message, **kw), id=id)  # type: ignore[arg-type]


def labelled_compose(label: str, value: str) -> str:
    return (
        "services:\n  web:\n    image: cilo-test/busybox\n    init: true\n"
        f'    command: ["sleep", "infinity"]\n    labels:\n      {label}: {json.dumps(value)}\n'
    )


ENV_MISSING_SERVICES = (
    '{"version": 6, "hosts": {"local": {"id": "local", "provider": "docker", "environments": '
    '{"{p}/keep": {"name": "keep"}}}}}'
)
V1_MISSING_SUBNET = json.dumps({
    "version": 1, "subnet_counter": 1, "environments": {"{p}/old": {
        "name": "old", "project": "{p}", "status": "running", "created_at": "2025-01-01T00:00:00Z",
        "source": "{dir}", "services": {}}},
})

CASES = [
    # --- environment names -------------------------------------------------------------
    case("env-uppercase", "create", "Dev", code=2,
         message=r'environment name "Dev" has uppercase letters; ' + ENV_RULE + r' \(for example "dev"\)'),
    case("env-all-caps-up", "up", "DEV", code=2, message=r'"DEV" has uppercase letters'),
    case("env-dot", "create", "dev.x", code=2,
         message=r"\"dev.x\" may hold only lowercase letters, digits and '-'; " + ENV_RULE),
    case("env-dotdot", "create", "..", code=2, message=r'environment name "\.\." may hold only'),
    case("env-single-dot-up", "up", ".", code=2, message=r'environment name "\." may hold only'),
    case("env-slashes-create", "create", "a/b/c", code=2, message=r'environment name "b/c" may hold only'),
    case("env-slashes-status", "status", "a/b/c", code=2, message=r'environment name "b/c" may hold only'),
    case("env-trailing-slash", "path", "dev/", code=2, message=r'environment name "" is empty'),
    case("env-leading-slash", "status", "/dev", code=2, message=BAD_PROJECT.format("")),
    case("env-leading-dash", "create", "--", "-dev", code=2,
         message=r"environment name \"-dev\" starts or ends with '-'"),
    case("env-leading-dash-as-option", "create", "-dev", code=2,
         message=r"docker cilo create needs an environment: .*name it right after the command"),
    case("env-trailing-dash", "up", "dev-", code=2, message=r"\"dev-\" starts or ends with '-'"),
    case("env-64-chars", "create", "a" * 64, code=2, message=r"is 64 characters long \(at most 63\)"),
    case("env-300-chars-destroy", "destroy", "--force", "b" * 300, code=2,
         message=r"is 300 characters long \(at most 63\)"),
    case("env-empty", "create", "", code=2, message=r'environment name "" is empty; ' + ENV_RULE),
    case("env-space-inside", "create", "my env", code=2,
         message=r'"my env" may hold only .*\(for example "my-env"\)'),
    case("env-leading-space", "create", " dev", code=2, message=r'environment name " dev" may hold only'),
    case("env-latin1", "create", "dév", code=2, message=r'environment name "d\\xe9v" may hold only'),
    case("env-cjk-up", "up", "开发", code=2, message=r'environment name "\\u5f00\\u53d1" may hold only'),
    case("env-emoji", "create", "dev🚀", code=2, message=r'environment name "dev\\U0001f680" may hold'),
    case("env-newline", "create", "dev\nx", code=2, message=r'environment name "dev\\nx" may hold only'),
    case("env-tab-down", "down", "dev\tx", code=2, message=r'environment name "dev\\tx" may hold only'),
    case("env-ansi-escape", "create", "dev\x1b[31m", code=2,
         message=r'environment name "dev\\x1b\[31m" may hold only'),
    case("env-underscore", "create", "dev_x", code=2, message=r'"dev_x" may hold only .*"dev-x"'),
    case("env-star", "create", "*", code=2, message=r'environment name "\*" may hold only'),
    case("env-shell", "create", "$(id)", code=2, message=r'environment name "\$\(id\)" may hold only'),
    case("env-run-uppercase", "run", "Dev", "web", "true", code=2, message=r'"Dev" has uppercase letters'),
    case("env-with-uppercase", "with", "Dev", "true", code=2, message=r'"Dev" has uppercase letters'),
    case("env-logs-dot", "logs", "dev.x", code=2, message=r'"dev.x" may hold only'),
    case("env-compose-space", "compose", "a b", "ps", code=2, message=r'"a b" may hold only'),
    case("env-exec-dotdot-ref", "exec", "../dev", "web", code=2, message=BAD_PROJECT.format(r"\.\.")),
    # --- project names that would escape the cilo home ------------------------------------
    case("project-p-dotdot-path", "-p", "../../x", "create", "dev", code=2,
         message=BAD_PROJECT.format(r"\.\./\.\./x")),
    case("project-p-dotdot", "-p", "..", "up", "dev", code=2, message=BAD_PROJECT.format(r"\.\.")),
    case("project-p-uppercase", "-p", "Shop", "create", "dev", code=2, message=BAD_PROJECT.format("Shop")),
    case("project-p-empty", "-p", "", "create", "dev", code=2, message=BAD_PROJECT.format("")),
    case("project-p-slash", "-p", "a/b", "create", "dev", code=2, message=BAD_PROJECT.format("a/b")),
    case("project-flag-dotdot", "--project", "../x", "status", "dev", code=2,
         message=BAD_PROJECT.format(r"\.\./x")),
    case("project-flag-etc-destroy", "--project", "../../etc", "destroy", "--force", "dev", code=2,
         message=BAD_PROJECT.format(r"\.\./\.\./etc")),
    case("project-flag-absolute", "--project", "/etc", "path", "dev", code=2,
         message=BAD_PROJECT.format("/etc")),
    case("project-flag-list", "--project", "x/../..", "list", code=2,
         message=BAD_PROJECT.format(r"x/\.\./\.\.")),
    case("project-ref-dotdot", "status", "../x/dev", code=2, message=BAD_PROJECT.format(r"\.\.")),
    case("project-ref-etc-path", "path", "../../etc/dev", code=2, message=BAD_PROJECT.format(r"\.\.")),
    case("project-ref-env-escape", "destroy", "--force", "x/../../dev", code=2,
         message=r'environment name "\.\./\.\./dev" may hold only'),
    case("project-compose-env-var", "create", "dev", env=(("COMPOSE_PROJECT_NAME", "../x"),),
         message=r'invalid project name "\.\./x"'),
    case("project-p-space", "-p", "a b", "create", "dev", code=2, message=BAD_PROJECT.format("a b")),
    case("project-flag-newline", "--project", "a\nb", "status", "dev", code=2,
         message=BAD_PROJECT.format(r"a\\nb")),
    # --- the state file ---------------------------------------------------------------------
    case("state-truncated", "list", "--all", state="TRUNCATED",
         message=r"state file {state} is not valid JSON \(.*\); restore it or move it away"),
    case("state-empty", "create", "dev", state="",
         message=r"state file {state} is empty \(a truncated write\?\)"),
    case("state-whitespace", "status", "keep", state="\n \n", message=r"state file {state} is empty"),
    case("state-not-json", "path", "keep", state="hello, world",
         message=r"state file {state} is not valid JSON"),
    case("state-binary", "list", "--all", state=b"\x00\xff\xfe\x80garbage",
         message=r"state file {state} is not valid JSON"),
    case("state-deeply-nested", "list", "--all", state="[" * 100_000 + "]" * 100_000,
         message=r"state file {state} is not valid JSON \(nested too deeply\)"),
    case("state-array", "destroy", "--all", "--force", state="[1, 2]",
         message=r"state file {state} does not hold a JSON object"),
    case("state-string", "up", "dev", state='"state"', message=r"state file {state} does not hold a JSON"),
    case("state-version-99", "list", "--all", state='{"version": 99, "hosts": {}}',
         message=r"state file {state} has version 99, newer than this cilo understands "
                 rf"\(versions 1-{LATEST}\); upgrade compose-cilo"),
    case("state-version-99-migrate", "state", "migrate", "--to", "1",
         state='{"version": 99, "hosts": {}}', message=r"has version 99, newer than this cilo"),
    case("state-version-string", "create", "dev", state='{"version": "2", "hosts": {}}',
         message=r'state file {state} has "version": "2", which is not a version number'),
    case("state-version-bool", "status", "keep", state='{"version": true, "hosts": {}}',
         message=r'has "version": true, which is not a version number'),
    case("state-version-0", "list", "--all", state='{"version": 0}',
         message=r"has version 0, which no cilo ever wrote"),
    case("state-invalid-subnet", "list", "--all", state="BAD_SUBNET",
         message=r"state file {state} is invalid: hosts/local/environments/{p}/keep/subnet: "
                 r"'10\.224\.250\.0' does not match"),
    case("state-invalid-missing-fields", "create", "dev", state=ENV_MISSING_SERVICES,
         message=r"state file {state} is invalid: hosts/local/environments/{p}/keep: "
                 r"'project' is a required property"),
    case("state-invalid-extra-field", "state", "show", state="EXTRA_FIELD",
         message=r"state file {state} is invalid: \(top level\): Additional properties are not "
                 r"allowed \('surprise' was unexpected\)"),
    case("state-v1-invalid", "list", "--all", state=V1_MISSING_SUBNET,
         message=r"state file {state} \(version 1\) is invalid: environments/{p}/old: "
                 r"'subnet' is a required property"),
    case("state-v2-without-version", "path", "keep", state="NO_VERSION",
         message=r"state file {state} \(version 1\) is invalid: \(top level\): Additional "
                 r"properties are not allowed \('hosts' was unexpected\)"),
    case("state-path-is-a-folder", "list", "--all", env=(("CILO_STATE_PATH", "{home}"),),
         message=r"cannot read state file {home} \(Is a directory\)"),
    # --- compose files ----------------------------------------------------------------------
    case("compose-yaml-broken", "create", "dev", compose="services: [\n",
         message=r"docker compose .*{dir}/compose\.yaml.*: yaml: line 1: did not find expected node"),
    case("compose-yaml-list", "up", "dev", compose="- a\n- b\n",
         message=r"docker compose .*{dir}/compose\.yaml.*cannot unmarshal"),
    case("compose-invalid-ports", "create", "dev",
         compose="services:\n  web:\n    image: x\n    ports: {a: 1}\n",
         message=r"services\.web\.ports must be a array"),
    case("compose-f-missing", "-f", "missing.yml", "create", "dev",
         message=r"compose file {dir}/missing\.yml not found; fix the -f / COMPOSE_FILE path"),
    case("compose-file-env-missing", "create", "dev", env=(("COMPOSE_FILE", "nope.yml"),),
         message=r"compose file {dir}/nope\.yml not found"),
    case("compose-env-file-missing", "--env-file", "missing.env", "create", "dev",
         message=r"env file {dir}/missing\.env not found; fix the --env-file path"),
    case("compose-no-file", "create", "dev", cwd="empty",
         message=r"no compose file found in .*empty or any parent folder"),
    # --- the engine ---------------------------------------------------------------------------
    case("engine-missing-create", "create", "dev", env=NO_ENGINE,
         message=r"cannot reach the Docker engine .*; start dockerd or check --context / DOCKER_HOST"),
    case("engine-missing-up", "up", "dev", env=NO_ENGINE, message=r"cannot reach the Docker engine"),
    case("engine-missing-status", "status", "keep", env=NO_ENGINE,
         message=r"cannot reach the Docker engine"),
    case("engine-missing-global-H", "create", "dev", docker_args=("-H", "unix:///nonexistent.sock"),
         message=r"cannot reach the Docker engine"),
    case("engine-refused-tcp", "create", "dev", env=(("DOCKER_HOST", "tcp://127.0.0.1:1"),),
         message=r"cannot reach the Docker engine"),
    # --- the lock -------------------------------------------------------------------------------
    case("lock-held-create", "create", "dev", hold_lock=True, env=(("CILO_LOCK_TIMEOUT", "0.5"),),
         message=r"state lock {state}\.lock is still held after 0\.5 s by another cilo command"),
    case("lock-held-destroy", "destroy", "--force", "keep", hold_lock=True,
         env=(("CILO_LOCK_TIMEOUT", "0.5"),), message=r"still held after 0\.5 s"),
    case("lock-held-migrate", "state", "migrate", "--to", "1", hold_lock=True,
         env=(("CILO_LOCK_TIMEOUT", "0"),), message=r"still held after 0 s"),
    case("lock-timeout-not-a-number", "create", "dev", env=(("CILO_LOCK_TIMEOUT", "soon"),),
         message=r'CILO_LOCK_TIMEOUT="soon" is not a number of seconds'),
    case("lock-timeout-negative", "create", "dev", hold_lock=True,
         env=(("CILO_LOCK_TIMEOUT", "-1"),), message=r'CILO_LOCK_TIMEOUT="-1" is not a number'),
    # --- labels with control characters -----------------------------------------------------
    case("label-hostnames-newline", "create", "dev",
         compose=labelled_compose("cilo.hostnames", "admin\nroot"),
         message=r'service "web": label cilo\.hostnames="admin\\nroot"'),
    case("label-hostnames-tab", "up", "dev", compose=labelled_compose("cilo.hostnames", "a\tb"),
         message=r'label cilo\.hostnames="a\\tb"'),
    case("label-hostnames-ansi", "create", "dev",
         compose=labelled_compose("cilo.hostnames", "\x1b[31mred"),
         message=r'label cilo\.hostnames="\\x1b\[31mred"'),
    case("label-hostnames-nul", "create", "dev", compose=labelled_compose("cilo.hostnames", "a\x00b"),
         message=r'label cilo\.hostnames="a\\x00b"'),
    case("label-hostnames-dotdot", "create", "dev", compose=labelled_compose("cilo.hostnames", "../etc"),
         message=r'label cilo\.hostnames="\.\./etc"'),
    case("label-ingress-bell", "create", "dev", compose=labelled_compose("cilo.ingress", "tru\x07e"),
         message=r'label cilo\.ingress="tru\\x07e" is not true or false'),
    # --- settings (issue 11 items 3, 4): named with their source, refused before any write ---
    case("suffix-newline-init", "init", env=(("CILO_DNS_SUFFIX", "test\naddress=/bank.example/6.6.6.6"),
                                             ("CILO_ROOT", "{home}/fakeroot")),
         message=r'CILO_DNS_SUFFIX="test\\naddress=/bank\.example/6\.6\.6\.6" must be DNS labels'),
    case("suffix-escapes-resolver-dir", "init", env=(("CILO_DNS_SUFFIX", "../../tmp/x"),
                                                     ("CILO_ROOT", "{home}/fakeroot")),
         message=r'CILO_DNS_SUFFIX="\.\./\.\./tmp/x" must be DNS labels'),
    case("suffix-slash-print", "init", "--print", env=(("CILO_DNS_SUFFIX", "a/b"),),
         message=r'CILO_DNS_SUFFIX="a/b" must be DNS labels'),
    case("suffix-hash-create", "create", "dev", env=(("CILO_DNS_SUFFIX", "te#st"),),
         message=r'CILO_DNS_SUFFIX="te#st" must be DNS labels.*unset CILO_DNS_SUFFIX or set e\.g\.'),
    case("suffix-percent-up", "up", "dev", env=(("CILO_DNS_SUFFIX", "te%st"),),
         message=r'CILO_DNS_SUFFIX="te%st" must be DNS labels'),
    case("suffix-300-chars-list", "list", env=(("CILO_DNS_SUFFIX", "a" * 300),),
         message=r'CILO_DNS_SUFFIX="a{200}\.\.\. \(300 characters\)" must be DNS labels'),
    case("suffix-latin1-status", "status", "keep", env=(("CILO_DNS_SUFFIX", "tést"),),
         message=r'CILO_DNS_SUFFIX="t\\xe9st" must be DNS labels'),
    case("suffix-numeric-dns-render", "dns", "render", env=(("CILO_DNS_SUFFIX", "123"),),
         message=r'CILO_DNS_SUFFIX="123" must be DNS labels'),
    case("upstreams-scope-injection", "create", "dev",
         env=(("CILO_DNS_UPSTREAMS", "fe80::1%eth0\nlisten-address=0.0.0.0"),),
         message=r'CILO_DNS_UPSTREAMS="fe80::1%eth0\\nlisten-address=0\.0\.0\.0" holds '
                 r'"fe80::1%eth0\\nlisten-address=0\.0\.0\.0", which is not an IP address'),
    case("upstreams-hostname-dns-start", "dns", "start", env=(("CILO_DNS_UPSTREAMS", "dns.google"),),
         message=r'CILO_DNS_UPSTREAMS="dns\.google" holds "dns\.google", which is not an IP'),
    case("upstreams-port-0", "up", "dev", env=(("CILO_DNS_UPSTREAMS", "1.1.1.1#0"),),
         message=r'holds "1\.1\.1\.1#0", which is not an IP address or IP#port'),
    case("upstreams-newline-server", "list", env=(("CILO_DNS_UPSTREAMS", "1.1.1.1\nserver=8.8.8.8"),),
         message=r'CILO_DNS_UPSTREAMS="1\.1\.1\.1\\nserver=8\.8\.8\.8" holds'),
    case("upstreams-itself", "create", "dev",
         env=(("CILO_DNS_PORT", "5399"), ("CILO_DNS_UPSTREAMS", "127.0.0.1#5399")),
         message=r"names cilo's own DNS server \(127\.0\.0\.1#5399\): it would forward"),
    case("port-zero", "create", "dev", env=(("CILO_DNS_PORT", "0"),),
         message=r'CILO_DNS_PORT="0" is not a port number 1-65535; unset CILO_DNS_PORT or set e\.g\. '
                 r"CILO_DNS_PORT=5354"),
    case("port-huge-dns-status", "dns", "status", env=(("CILO_DNS_PORT", "9" * 30),),
         message=r'CILO_DNS_PORT="9{30}" is not a port number'),
    case("port-newline", "up", "dev", env=(("CILO_DNS_PORT", "53\nport=54"),),
         message=r'CILO_DNS_PORT="53\\nport=54" is not a port number'),
    case("port-arabic-digits", "list", env=(("CILO_DNS_PORT", "٥٣٥٤"),),
         message=r'CILO_DNS_PORT="\\u0665\\u0663\\u0665\\u0664" is not a port number'),
    case("port-negative-init", "init", "--print", env=(("CILO_DNS_PORT", "-1"),),
         message=r'CILO_DNS_PORT="-1" is not a port number'),
    case("subnet-newline", "create", "dev", env=(("CILO_BASE_SUBNET", "10.224.0.0/16\nx"),),
         message=r'CILO_BASE_SUBNET="10\.224\.0\.0/16\\nx" is not an IPv4 CIDR range'),
    case("subnet-host-bits-list", "list", env=(("CILO_BASE_SUBNET", "10.224.1.0/16"),),
         message=r'base subnet "10\.224\.1\.0/16" \(CILO_BASE_SUBNET\) has host bits set'),
    case("subnet-trailing-newline", "up", "dev", env=(("CILO_BASE_SUBNET", "10.224.0.0/16\n"),),
         message=r'CILO_BASE_SUBNET="10\.224\.0\.0/16\\n" is not an IPv4 CIDR range'),
    case("lock-timeout-inf", "create", "dev", env=(("CILO_LOCK_TIMEOUT", "inf"),),
         message=r'CILO_LOCK_TIMEOUT="inf" is not a number of seconds \(0 or more, at most 86400\)'),
    case("lock-timeout-huge-status", "status", "keep", env=(("CILO_LOCK_TIMEOUT", "99999999"),),
         message=r'CILO_LOCK_TIMEOUT="99999999" is not a number of seconds'),
    case("home-is-a-file", "list", env=(("CILO_HOME", "{state}"),), code=1,
         message=r'^error: CILO_HOME="{state}" is a file, not a folder; point CILO_HOME at a folder '
                 r"\(cilo creates it if missing\)\n$"),
    case("home-is-a-file-create", "create", "dev", env=(("CILO_HOME", "{state}"),),
         message=r'CILO_HOME="{state}" is a file, not a folder'),
    case("home-relative", "create", "dev", env=(("CILO_HOME", "relative/home"),),
         message=r'CILO_HOME="relative/home" is not an absolute path'),
    case("home-hash", "up", "dev", env=(("CILO_HOME", "{home}/a#b"),),
         message=r'CILO_HOME="{home}/a#b" may hold only letters, digits and /\._\+@~-'),
    case("home-newline-list", "list", env=(("CILO_HOME", "{home}/a\nb"),),
         message=r'CILO_HOME="{home}/a\\nb" holds control characters'),
    case("home-shared-folder", "create", "dev", env=(("CILO_HOME", "{shared}"),),
         message=r'CILO_HOME="{shared}" is a folder other users can write to \(mode 0777\)'),
    case("home-inside-shared-folder", "list", env=(("CILO_HOME", "{shared}/cilo"),),
         message=r'CILO_HOME="{shared}/cilo" is in {shared}, which other users can write to '
                 r"\(mode 0777\) without the sticky bit"),
    case("state-path-in-shared-folder", "create", "dev", env=(("CILO_STATE_PATH", "{shared}/x.json"),),
         message=r'CILO_STATE_PATH="{shared}/x\.json" is in {shared}, which other users can write to '
                 r"\(mode 0777\) without the sticky bit, so they could replace the state file; "
                 r"run: chmod \+t {shared}"),
    case("state-path-in-shared-folder-list", "list", env=(("CILO_STATE_PATH", "{shared}/x.json"),),
         message=r"without the sticky bit"),
    case("state-path-relative", "create", "dev", env=(("CILO_STATE_PATH", "state.json"),),
         message=r'CILO_STATE_PATH="state\.json" is not an absolute path'),
    case("state-path-under-a-file", "status", "keep", env=(("CILO_STATE_PATH", "{state}/s.json"),),
         message=r'CILO_STATE_PATH="{state}/s\.json" cannot be used: {state} is a file, not a folder'),
    case("dns-config-space", "up", "dev", env=(("CILO_DNS_CONFIG", "{home}/a b.conf"),),
         message=r'CILO_DNS_CONFIG="{home}/a b\.conf" may hold only letters'),
    case("dns-config-in-shared-folder", "dns", "restart",
         env=(("CILO_DNS_CONFIG", "{shared}/dnsmasq.conf"),), message=r"without the sticky bit"),
    case("settings-all-reported-together", "create", "dev",
         env=(("CILO_DNS_SUFFIX", "a/b"), ("CILO_DNS_PORT", "0"), ("CILO_LOCK_TIMEOUT", "-1")),
         message=r'error: 3 settings are invalid:\n  CILO_DNS_SUFFIX="a/b" .*\n  CILO_DNS_PORT="0" '
                 r'.*\n  CILO_LOCK_TIMEOUT="-1" '),
    # --- usage ------------------------------------------------------------------------------------
    case("usage-destroy-all-unforced", "destroy", "--all", message=r"add --force to confirm"),
    case("usage-destroy-name-and-all", "destroy", "keep", "--all", "--force",
         message=r"give one of: an environment name, --all \(this project's environments\) or --all-projects"),
    case("usage-destroy-all-and-all-projects", "destroy", "--all", "--all-projects", "--force",
         message=r"give one of: an environment name, --all"),
    # --- a typo in a compose option never widens a destroy to every project (issue 11) -----
    case("destroy-all-env-file-typo", "--env-file", ".env.locl", "destroy", "--all", "--force",
         message=r"env file {dir}/\.env\.locl not found; fix the --env-file path"),
    case("destroy-all-compose-file-missing", "destroy", "--all", "--force",
         env=(("COMPOSE_FILE", "missing.yml"),),
         message=r"compose file {dir}/missing\.yml not found; fix the -f / COMPOSE_FILE path"),
    case("destroy-all-f-typo", "-f", "compose.ymll", "destroy", "--all", "--force",
         message=r"compose file {dir}/compose\.ymll not found"),
    case("destroy-all-outside-a-project", "destroy", "--all", "--force", cwd="empty",
         message=r"no compose file found in .* cd into your project or pass -f FILE"),
    case("destroy-all-projects-unforced", "destroy", "--all-projects", cwd="empty",
         message=r"destroy would remove 1 environment\(s\) listed above; add --force to confirm"),
    # --- parsing as docker and compose do (issue 11 item 8) ---------------------------------
    case("argv-f-stdin-create", "-f", "-", "create", "dev",
         message=r"compose file '-' \(standard input\) cannot be used: .* pass -f stack\.yaml"),
    case("argv-f-stdin-list", "-f", "-", "list", message=r"compose file '-' \(standard input\)"),
    case("argv-f-stdin-after-file", "-f", "compose.yaml", "-f", "-", "up", "dev",
         message=r"compose file '-' \(standard input\) cannot be used"),
    case("list-env-file-typo", "--env-file", ".env.locl", "list",
         message=r"env file {dir}/\.env\.locl not found; fix the --env-file path"),
    case("list-compose-file-missing", "list", env=(("COMPOSE_FILE", "missing.yml"),),
         message=r"compose file {dir}/missing\.yml not found"),
    case("docker-H-attached", "create", "dev", docker_args=("-Hunix:///nonexistent.sock",),
         message=r"cannot reach the Docker engine"),
    case("docker-H-equals", "up", "dev", docker_args=("-H=tcp://127.0.0.1:1",),
         message=r"cannot reach the Docker engine"),
    case("docker-host-equals-status", "status", "keep",
         docker_args=("--host=unix:///nonexistent.sock",), message=r"cannot reach the Docker engine"),
    case("docker-debug-and-H-combined", "create", "dev", docker_args=("-D", "-Hunix:///nonexistent.sock"),
         message=r"cannot reach the Docker engine"),
    case("dotenv-compose-file-comment", "create", "dev", dotenv="COMPOSE_FILE=missing.yml # the main file\n",
         message=r"compose file {dir}/missing\.yml not found; fix the -f / COMPOSE_FILE path"),
    case("dotenv-compose-file-quoted-export", "up", "dev",
         dotenv="export COMPOSE_FILE='missing one.yml'\n",
         message=r"compose file {dir}/missing one\.yml not found"),
    case("dotenv-latin1", "create", "dev", dotenv=b"COMPOSE_FILE=caf\xe9.yml\n",
         message=r"compose file {dir}/caf\ufffd\.yml not found"),
    case("dotenv-latin1-list", "list", dotenv=b"# caf\xe9\nCOMPOSE_FILE=caf\xe9.yml\n",
         message=r"compose file {dir}/caf\ufffd\.yml not found"),
    case("dotenv-destroy-all-compose-file-missing", "destroy", "--all", "--force",
         dotenv="COMPOSE_FILE=gone.yml\n", message=r"compose file {dir}/gone\.yml not found"),
    case("dotenv-project-name", "create", "dev", dotenv="COMPOSE_PROJECT_NAME=../x\n",
         message=r'invalid project name "\.\./x"'),
    # compose's own commands: compose refuses them, with its exit status and its words
    case("usage-exec-option-needs-value", "exec", "keep", "-u", code=1,
         message=r"flag needs an argument: 'u' in -u"),
    case("usage-exec-missing-service", "exec", "keep", code=1, message=r"requires at least 2 arg"),
    case("usage-run-missing-service", "run", "fresh", code=1, message=r"requires at least 1 arg"),
    case("usage-up-no-such-service", "up", "-d", "nosuchservice", code=1, env=(("CILO_ENV", "fresh"),),
         message=r"no such service: nosuchservice"),
    case("usage-up-unknown-flag", "up", "fresh", "--frobnicate", code=1, message=r"unknown flag: --frobnicate"),
    case("usage-with-missing-command", "with", "keep", code=2, message=r"docker cilo with needs a command"),
    case("usage-exec-index-not-a-number", "exec", "keep", "--index", "one", "web", code=1,
         message=r'invalid argument "one" for "--index" flag'),
    case("usage-verb-needs-env", "ps", code=2, message=r"docker cilo ps needs an environment: select one"),
    case("usage-verb-env-after-options", "logs", "-f", "keep", code=2,
         message=r"name it right after the command: docker cilo logs ENV -f keep"),
    case("usage-p-with-selection", "-p", "other", "up", "-d", code=2, env=(("CILO_ENV", "keep"),),
         message=r"-p other names a compose project, and with environment keep selected"),
    case("usage-publish-refused", "publish", "keep", "x/y:1", code=2, message=r"docker cilo publish is refused"),
    case("usage-unknown-command", "frobnicate", code=2, message=r"No such command 'frobnicate'"),
    case("usage-missing-env", "create", code=2,
         message=r"docker cilo create needs an environment: select one with --env ENV, CILO_ENV=ENV or "
                 r"docker cilo use ENV, or name it right after the command: docker cilo create ENV"),
    case("selection-cilo-env-bad", "status", code=2, env=(("CILO_ENV", "Bad_Env"),),
         message=r'CILO_ENV="Bad_Env": environment name "Bad_Env" has uppercase letters'),
    case("selection-env-and-name-disagree", "--env", "qa", "path", "keep", code=2,
         message=r"--env qa and the environment keep disagree; give one of them"),
    case("selection-use-two-choices", "use", "dev", "--auto", code=2,
         message=r"give one of: ENV, --auto or --clear"),
    case("usage-migrate-unknown-version", "state", "migrate", "--to", str(LATEST + 1), code=2,
         message=rf"state version {LATEST + 1} does not exist; this cilo knows versions 1-{LATEST}"),
    case("usage-unknown-environment", "status", "nope",
         message=r"environment {p}/nope does not exist; create it with `docker cilo up nope`"),
]


@dataclass
class Sandbox:
    root: Path
    project: str
    proj: Path
    home: Path
    state: Path

    def fill(self, text: str, regex: bool = False) -> str:
        for key, value in (("{p}", self.project), ("{dir}", str(self.proj)),
                           ("{state}", str(self.state)), ("{home}", str(self.home)),
                           ("{shared}", str(self.root / "shared"))):
            text = text.replace(key, re.escape(value) if regex else value)
        return text


def valid_state(sb: Sandbox) -> dict:
    record = {
        "name": "keep", "project": sb.project, "compose_project": f"cilo_{sb.project}_keep",
        "status": "stopped", "subnet": "10.224.250.0/24", "network": f"cilo_{sb.project}_keep",
        "project_dir": str(sb.proj), "compose_files": [str(sb.proj / "compose.yaml")],
        "env_files": [], "profiles": [], "workspace": str(sb.proj), "copy": False,
        "override": str(sb.home / "envs" / sb.project / "keep" / "override.yml"),
        "created_at": "2026-11-28T00:00:00Z", "updated_at": "2026-11-28T00:00:00Z",
        "services": {"web": {"ip": "10.224.250.2", "container": None, "status": "not created",
                             "ingress": True, "hostnames": [], "replicas": []}},
        "networks": {},
    }
    return {"version": 6, "hosts": {"local": {"id": "local", "provider": "docker",
                                              "environments": {f"{sb.project}/keep": record}}}}


def state_bytes(sb: Sandbox, content: str | bytes | None) -> bytes:
    good = valid_state(sb)
    text = json.dumps(good, indent=2) + "\n"
    if content is None:
        return text.encode()
    if isinstance(content, bytes):
        return content
    if content == "TRUNCATED":
        return text.encode()[: len(text) // 2]
    if content == "BAD_SUBNET":
        return text.replace('"10.224.250.0/24"', '"10.224.250.0"').encode()
    if content == "EXTRA_FIELD":
        return json.dumps({**good, "surprise": True}).encode()
    if content == "NO_VERSION":
        return json.dumps({"hosts": good["hosts"]}).encode()
    return sb.fill(content).encode()


def _document(p: Path) -> bytes:
    data = p.read_bytes()
    if p.name == "state.json":
        with contextlib.suppress(ValueError, RecursionError):
            return json.dumps(json.loads(data), sort_keys=True).encode()
    return data


def tree(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under root with its mode and content digest (symlinks by target).

    `state.json.valid` is left out: it is a cache (a digest of bytes cilo validated), so
    a refused command may create it without changing any state. A state file that parses
    is compared as the document it holds: compose refuses its own bad arguments only
    after cilo made the copy (then removed it again), so the file may be written back
    with the same document in cilo's layout.
    """
    out = {}
    for p in sorted(root.rglob("*")):
        if p.name.endswith(".json.valid"):
            continue
        st = p.lstat()
        if p.is_symlink():
            digest = "-> " + os.readlink(p)
        elif p.is_file():
            digest = hashlib.sha256(_document(p)).hexdigest()
        else:
            digest = "dir"
        out[str(p.relative_to(root))] = (st.st_mode, digest)
    return out


def engine_objects(token: str) -> dict[str, list[str]]:
    """Containers, networks and volumes whose name holds the project's unique name."""
    def names(*args: str) -> list[str]:
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
        return sorted(n for n in proc.stdout.split() if token in n)

    return {
        "containers": names("ps", "-a", "--format", "{{.Names}}"),
        "networks": names("network", "ls", "--format", "{{.Name}}"),
        "volumes": names("volume", "ls", "--format", "{{.Name}}"),
    }


@pytest.fixture
def sandbox(tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    # deep enough that escaping names would still land (visibly) inside tmp_path
    home = tmp_path / "w" / "x" / "home"
    home.mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("CILO_HOME", str(home))
    project = f"bad{unique}"
    proj = tmp_path / project
    shutil.copytree(PROJECTS / "plain", proj)
    (tmp_path / "empty").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared").chmod(0o777)  # others may write, no sticky bit: no place for state
    return Sandbox(tmp_path, project, proj, home, home / "state.json")


@pytest.fixture
def lock_holder(sandbox: Sandbox) -> Iterator[Callable[[], None]]:
    procs: list[subprocess.Popen[str]] = []

    def hold() -> None:
        code = ("import sys, time\nfrom filelock import FileLock\n"
                f"lock = FileLock({str(sandbox.state) + '.lock'!r})\nlock.acquire()\n"
                "print('held', flush=True)\ntime.sleep(120)\n")
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_refused_clearly_and_changes_nothing(
    bad: Bad, sandbox: Sandbox, cilo: Cilo, lock_holder: Callable[[], None]
) -> None:
    sb = sandbox
    if bad.compose is not None:
        (sb.proj / "compose.yaml").write_text(bad.compose)
    if bad.dotenv is not None:
        (sb.proj / ".env").write_bytes(bad.dotenv if isinstance(bad.dotenv, bytes) else bad.dotenv.encode())
    sb.state.write_bytes(state_bytes(sb, bad.state))
    sb.state.chmod(0o600)
    (sb.home / "state.json.lock").touch(mode=0o600)
    if bad.hold_lock:
        lock_holder()
    env = {k: sb.fill(v) for k, v in bad.env}
    files_before, engine_before = tree(sb.root), engine_objects(sb.project)

    cwd = sb.proj if bad.cwd == "project" else sb.root / "empty"
    proc = cilo(*bad.args, cwd=cwd, check=False, env=env, docker_args=bad.docker_args)
    if proc.returncode == 0:  # accepted after all: remove whatever it made, then fail
        cilo("destroy", "--all-projects", "--force", cwd=sb.root / "empty", check=False)

    assert proc.returncode != 0, proc
    if bad.code is not None:
        assert proc.returncode == bad.code, proc.stderr
    assert re.search(sb.fill(bad.message, regex=True), proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected error" not in proc.stderr, proc.stderr
    assert proc.stdout == "", proc.stdout
    assert tree(sb.root) == files_before
    assert engine_objects(sb.project) == engine_before == {
        "containers": [], "networks": [], "volumes": []}


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 150
    ids = [c.id for c in CASES]  # type: ignore[attr-defined]
    assert len(set(ids)) == len(ids)
