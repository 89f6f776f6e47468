"""Every setting, loaded and checked in one place, before anything is written.

Sources, first wins: the environment variable (CILO_*; empty means unset), the key in
`$CILO_HOME/config.json`, the default. Every bad value is one problem that names the
setting, where it came from and the rule; all problems are reported together in one
SettingsError. The folders are checked too: cilo never chmods a folder it did not
create (as root, `CILO_STATE_PATH=/tmp/x.json` once made /tmp private for every user,
issue 11 item 3), and it refuses to keep state where other users could swap it.

The pure rules (`check_suffix`, `parse_upstream`) are used again where values are
rendered into config files (rules.py, used by dns/render.py and dns/resolver.py): defence
in depth (issue 11 item 4).
Standard library only, nothing heavy: `list` and completion load this on every call.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any, NamedTuple

from .errors import CiloError
from .folders import foreign_file, nearest, shared, unsafe_parent
from .rules import SUFFIX_RULE, UPSTREAM_RULE, check_suffix, parse_pool, parse_upstream, shown

ENV = {
    "home": "CILO_HOME", "state_path": "CILO_STATE_PATH", "dns_config": "CILO_DNS_CONFIG",
    "dns_suffix": "CILO_DNS_SUFFIX", "dns_port": "CILO_DNS_PORT",
    "dns_upstreams": "CILO_DNS_UPSTREAMS", "base_subnet": "CILO_BASE_SUBNET",
    "lock_timeout": "CILO_LOCK_TIMEOUT", "helper_image": "CILO_HELPER_IMAGE", "reach": "CILO_REACH",
    "router_image": "CILO_ROUTER_IMAGE", "router_http_port": "CILO_ROUTER_HTTP_PORT",
    "router_https_port": "CILO_ROUTER_HTTPS_PORT",
}
FILE_KEYS = tuple(k for k in ENV if k != "home")  # config.json lives in the home
DEFAULTS: dict[str, Any] = {
    "dns_suffix": "test", "dns_port": 5354, "base_subnet": "10.224.0.0/16", "lock_timeout": 30.0,
    "reach": "auto", "router_image": "caddy:2", "router_http_port": 80, "router_https_port": 443,
}
EXAMPLES = {
    "home": "$HOME/.cilo", "state_path": "$HOME/.cilo/state.json",
    "dns_config": "$HOME/.cilo/dns/dnsmasq.conf", "dns_suffix": "test", "dns_port": "5354",
    "dns_upstreams": "192.168.1.1,1.1.1.1#53", "base_subnet": "10.224.0.0/16", "lock_timeout": "30",
    "helper_image": "busybox:latest", "reach": "auto", "router_image": "caddy:2",
    "router_http_port": "80", "router_https_port": "443",
}
MAX_PATH = 1024
MAX_LOCK_TIMEOUT = 86400.0
MAX_UPSTREAMS_TEXT = 4096
# letters, digits and /._+@~-: nothing dnsmasq's config parser reads specially
PLAIN_PATH = re.compile(r"/[A-Za-z0-9/._+@~-]*")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # and lone surrogates: bytes, not text


class SettingsError(CiloError):
    """One or more settings are invalid; `problems` holds one line per bad value."""

    def __init__(self, problems: list[str], keys: list[str]) -> None:
        self.problems, self.keys = problems, keys
        head = problems[0] if len(problems) == 1 else f"{len(problems)} settings are invalid:"
        super().__init__("\n  ".join([head, *problems]) if len(problems) > 1 else head)

    @property
    def env_vars(self) -> list[str]:
        return [ENV[k] for k in self.keys]


class Settings(NamedTuple):
    home: Path
    state_path: Path
    dns_config: Path | None  # None: $CILO_HOME/dns/dnsmasq.conf
    dns_suffix: str
    dns_port: int
    upstreams: tuple[str, ...] | None  # None: detect the system's own
    upstreams_source: str
    base_subnet: str
    base_subnet_source: str
    lock_timeout: float
    helper_image: str | None  # removes files a container wrote as another user; None: the env's image
    reach: str = "auto"  # auto, direct or router (reach/mode.py)
    router_image: str = "caddy:2"
    router_http_port: int = 80
    router_https_port: int = 443


# ---------------------------------------------------------------- loading


class _Loader:
    """Collects every problem while reading each setting from its source."""

    def __init__(self, environ: dict[str, str] | os._Environ[str]) -> None:
        self.environ = environ
        self.problems: list[str] = []
        self.keys: list[str] = []
        self.file: dict[str, Any] = {}
        self.file_path: Path | None = None

    def bad(self, key: str, where: str, rule: str, fix: str | None = None) -> None:
        self.problems.append(f"{where} {rule}; {fix or self.fix(key, where)}")
        if key not in self.keys:
            self.keys.append(key)

    def fix(self, key: str, where: str) -> str:
        if where.startswith(ENV[key]):
            return f"unset {ENV[key]} or set e.g. {ENV[key]}={EXAMPLES[key]}"
        if where.startswith("default"):
            return f"set {ENV[key]} to a folder whose path has only letters, digits and /._+@~-"
        return f'fix or remove "{key}" in {self.file_path}'

    def raw(self, key: str) -> tuple[Any, str, str]:
        """(value, where, source) of a setting; source is the env var, config.json or default."""
        env = self.environ.get(ENV[key])
        if env is not None and (env != "" or key == "dns_upstreams"):
            return env, f'{ENV[key]}="{shown(env)}"', ENV[key]
        if key in self.file:
            value = self.file[key]
            return value, f'"{key}": {shown(value)} in {self.file_path}', f"{key} in {self.file_path}"
        return DEFAULTS.get(key), f"default {key}", "default"


def load(environ: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    """Read and check every setting; raise one SettingsError naming every bad value."""
    ld = _Loader(os.environ if environ is None else environ)
    home = _home(ld)
    if home is not None and not _check_home_folder(ld, home):
        home_ok = True
        _read_file(ld, home / "config.json")
    else:
        home_ok = False  # nothing under it is read or checked: one problem, not three
    state_path = _path(ld, "state_path", plain=False)
    dns_config = _path(ld, "dns_config", plain=True)
    suffix = _suffix(ld)
    port = _port(ld, "dns_port")
    upstreams, up_source = _upstreams(ld, port)
    subnet, subnet_source = _subnet(ld)
    timeout = _lock_timeout(ld)
    helper = _image(ld, "helper_image")
    reach = _choice(ld, "reach", ("auto", "direct", "router"))
    router = (_image(ld, "router_image"), _port(ld, "router_http_port"), _port(ld, "router_https_port"))
    if state_path is None and home_ok:
        state_path = home / "state.json"  # type: ignore[operator]
    if state_path is not None:
        _check_file_folder(ld, "state_path", state_path, "state file")
    if dns_config is not None:
        _check_file_folder(ld, "dns_config", dns_config, "dnsmasq config")
    if ld.problems:
        raise SettingsError(ld.problems, ld.keys)
    assert home is not None and state_path is not None and suffix is not None and port is not None
    return Settings(home, state_path, dns_config, suffix, port, upstreams, up_source, subnet,
                    subnet_source, timeout if timeout is not None else DEFAULTS["lock_timeout"], helper,
                    reach or "auto", *router)  # type: ignore[arg-type]


def _path_problem(text: str, plain: bool) -> str | None:
    if _CONTROL.search(text):
        return "holds control characters or bytes that are not text"
    if len(text) > MAX_PATH:
        return f"is {len(text)} characters long (at most {MAX_PATH})"
    if not text.startswith(("/", "~")):
        return "is not an absolute path"
    if plain and not PLAIN_PATH.fullmatch(text):
        return ("may hold only letters, digits and /._+@~- (it is written into the dnsmasq "
                "config)")
    return None


def _expand(ld: _Loader, key: str, where: str, value: str, plain: bool) -> Path | None:
    problem = _path_problem(value, plain)
    if problem is None:
        try:
            path = Path(value).expanduser()
        except RuntimeError as e:  # ~user of no such user
            problem = f"cannot be expanded ({e})"
        else:
            problem = _path_problem(str(path), plain)
    if problem is not None:
        ld.bad(key, where, problem)
        return None
    return path


def _home(ld: _Loader) -> Path | None:
    value, where, _ = ld.raw("home")
    if value is None:
        try:
            value = str(Path.home() / ".cilo")
        except RuntimeError:
            ld.bad("home", "default cilo home", "cannot be found (no HOME)")
            return None
        where = f'default cilo home "{shown(value)}"'
    return _expand(ld, "home", where, value, plain=True)


def _path(ld: _Loader, key: str, plain: bool) -> Path | None:
    value, where, _ = ld.raw(key)
    if value is None:
        return None
    if not isinstance(value, str):
        ld.bad(key, where, "is not a path (a JSON string)")
        return None
    return _expand(ld, key, where, value, plain)


def _suffix(ld: _Loader) -> str | None:
    value, where, _ = ld.raw("dns_suffix")
    if not isinstance(value, str):
        ld.bad("dns_suffix", where, "is not a JSON string; it " + SUFFIX_RULE)
        return None
    try:
        return check_suffix(value.strip(".").lower() if value.isascii() else value)
    except ValueError as e:
        ld.bad("dns_suffix", where, str(e))
        return None


def _port(ld: _Loader, key: str) -> int | None:
    value, where, _ = ld.raw(key)
    if isinstance(value, str):
        port = int(value) if re.fullmatch(r"[0-9]{1,5}", value) else -1
    else:
        port = value if isinstance(value, int) and not isinstance(value, bool) else -1
    if not 0 < port < 65536:
        ld.bad(key, where, "is not a port number 1-65535")
        return None
    return port


def _upstreams(ld: _Loader, port: int | None) -> tuple[tuple[str, ...] | None, str]:
    value, where, source = ld.raw("dns_upstreams")
    if value is None:
        return None, "detected"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if not isinstance(value, str) or len(value) > MAX_UPSTREAMS_TEXT:
        ld.bad("dns_upstreams", where, "is not a comma-separated list of IP or IP#port "
               f"(a string or list of strings, at most {MAX_UPSTREAMS_TEXT} characters)")
        return None, source
    servers: list[str] = []
    for part in (p.strip(" ") for p in value.split(",")):
        try:
            server = parse_upstream(part) if part else None
        except ValueError:
            ld.bad("dns_upstreams", where, f'holds "{shown(part)}", which is {UPSTREAM_RULE}',
                   f'give a list such as "{EXAMPLES["dns_upstreams"]}", or "" for none')
            return None, source
        if server and port and server in (f"127.0.0.1#{port}", f"::1#{port}") + (
                ("127.0.0.1", "::1") if port == 53 else ()):
            ld.bad("dns_upstreams", where, f"names cilo's own DNS server ({server}): it would "
                   "forward queries to itself", "leave cilo's own address out of the list")
            return None, source
        if server and server not in servers:
            servers.append(server)
    return tuple(servers), source


def _subnet(ld: _Loader) -> tuple[str, str]:
    value, where, source = ld.raw("base_subnet")
    if not isinstance(value, str) or not value.isascii() or _CONTROL.search(value):
        ld.bad("base_subnet", where, "is not an IPv4 CIDR range (printable ASCII text)")
        return "", source
    if value == DEFAULTS["base_subnet"]:
        return value, source  # no need to import ipaddress for `list`
    try:
        parse_pool(value, source if source != "default" else "default")
    except CiloError as e:
        ld.problems.append(str(e))
        ld.keys.append("base_subnet")
    return value, source


def _lock_timeout(ld: _Loader) -> float | None:
    value, where, _ = ld.raw("lock_timeout")
    if isinstance(value, str):
        number = float(value) if re.fullmatch(r"[0-9]{1,9}(\.[0-9]{0,9})?|\.[0-9]{1,9}", value) else -1.0
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        number = -1.0
    if not (math.isfinite(number) and 0 <= number <= MAX_LOCK_TIMEOUT):
        ld.bad("lock_timeout", where, "is not a number of seconds (0 or more, at most "
               f"{MAX_LOCK_TIMEOUT:g})")
        return None
    return number


# a docker image reference: [registry[:port]/]name[:tag][@digest], lowercase name parts
_IMAGE = re.compile(r"(?=.{1,255}$)([A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?/)?[a-z0-9]+([._/-]+[a-z0-9]+)*"
                    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?")


def _image(ld: _Loader, key: str) -> str | None:
    value, where, _ = ld.raw(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _IMAGE.fullmatch(value):
        ld.bad(key, where, f"is not a docker image reference (e.g. {EXAMPLES[key]})")
        return None
    return value


def _choice(ld: _Loader, key: str, choices: tuple[str, ...]) -> str | None:
    value, where, _ = ld.raw(key)
    if value not in choices:
        ld.bad(key, where, f"is not one of {', '.join(choices)}")
        return None
    return str(value)


# ---------------------------------------------------------------- config.json


def _read_file(ld: _Loader, path: Path) -> None:
    ld.file_path = path
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    except OSError as e:
        ld.problems.append(f"config file {path} cannot be read ({e.strerror}); fix or remove it")
        return
    if not stat.S_ISREG(st.st_mode) or st.st_uid not in (os.geteuid(), 0) or st.st_mode & 0o022:
        ld.problems.append(
            f"config file {path} is not a plain file of yours that only you can change "
            f"(mode {stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid}); cilo reads settings "
            f"from it, so run: chown {os.geteuid()} {path} && chmod 600 {path}")
        return
    try:
        data = json.loads(path.read_bytes().decode())
    except (OSError, ValueError, RecursionError) as e:
        ld.problems.append(f"config file {path} cannot be read ({shown(str(e), 120)}); "
                           "fix or remove it")
        return
    if not isinstance(data, dict):
        ld.problems.append(f"config file {path} must hold a JSON object; fix or remove it")
        return
    for key in sorted(set(data) - set(FILE_KEYS)):
        ld.problems.append(f'config file {path} has the unknown key "{shown(key)}" (known: '
                           f"{', '.join(FILE_KEYS)}); fix or remove it")
    ld.file = {k: v for k, v in data.items() if k in FILE_KEYS}


# ---------------------------------------------------------------- folders


def _check_home_folder(ld: _Loader, home: Path) -> bool:
    """Add a problem if the home cannot be cilo's own private folder; True if it did."""
    before = len(ld.problems)
    _, where, _ = ld.raw("home")
    where = where if where.startswith(ENV["home"]) else f'cilo home "{home}"'
    found, st = nearest(home)
    if st is None:
        return False
    if found == home and stat.S_ISDIR(st.st_mode) and shared(st):
        ld.bad("home", where, f"is a folder other users can write to (mode "
               f"{stat.S_IMODE(st.st_mode):04o}): they could plant its config.json, dns/ or "
               "envs/", "point CILO_HOME at a folder of your own (cilo creates it 0700), "
               f"or run: chmod go-w {home}")
    elif found == home and not stat.S_ISDIR(st.st_mode):
        ld.bad("home", where, "is a file, not a folder",
               "point CILO_HOME at a folder (cilo creates it if missing)")
    elif found != home and (problem := unsafe_parent(found, st, "cilo home")):
        ld.bad("home", where, problem, "or point CILO_HOME at a folder of your own")
    return len(ld.problems) > before


def _check_file_folder(ld: _Loader, key: str, path: Path, what: str) -> None:
    _, where, _ = ld.raw(key)
    where = where if not where.startswith("default") else f'{what} "{path}"'
    found, st = nearest(path.parent)
    if st is None:
        return
    problem = unsafe_parent(found, st, what)
    if problem is None and shared(st) and found == path.parent:
        problem = foreign_file(path, what) or foreign_file(path.with_name(path.name + ".lock"), what)
    if problem is not None:
        ld.bad(key, where, problem, f"or set {ENV[key]} to a path in a folder of your own")


# ---------------------------------------------------------------- the cached view


_cache: dict[tuple[str | None, ...], Settings] = {}


def current() -> Settings:
    """The settings now (cached per environment; `clear_cache()` after changing config.json)."""
    key = tuple(os.environ.get(v) for v in (*ENV.values(), "HOME"))
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = load()
    return found


def clear_cache() -> None:
    _cache.clear()
