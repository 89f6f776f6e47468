"""User settings: environment variables win over `$CILO_HOME/config.json`, then defaults.

config.json is optional, e.g. {"dns_suffix": "test", "dns_port": 5354,
"base_subnet": "10.224.0.0/16"}.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from . import paths
from .errors import CiloError

DEFAULTS: dict[str, Any] = {
    "dns_suffix": "test",
    "dns_port": 5354,
    "base_subnet": "10.224.0.0/16",
}
ENV_VARS = {
    "dns_suffix": "CILO_DNS_SUFFIX",
    "dns_port": "CILO_DNS_PORT",
    "base_subnet": "CILO_BASE_SUBNET",
}


@lru_cache(maxsize=1)
def _file_settings() -> dict[str, Any]:
    path = paths.cilo_home() / "config.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CiloError(f"config file {path} cannot be read ({e}); fix or remove it") from None
    if not isinstance(data, dict) or set(data) - set(DEFAULTS):
        raise CiloError(
            f"config file {path} must be a JSON object with only the keys "
            f"{', '.join(sorted(DEFAULTS))}; fix or remove it"
        )
    return data


def get(key: str) -> Any:
    raw = os.environ.get(ENV_VARS[key])
    if raw is None or raw == "":
        return _file_settings().get(key, DEFAULTS[key])
    return raw


def dns_suffix() -> str:
    return str(get("dns_suffix")).strip(".").lower()


def dns_port() -> int:
    value = get("dns_port")
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise CiloError(f"DNS port {value!r} (CILO_DNS_PORT) is not a port number 1-65535")
    return port


def base_subnet() -> str:
    return str(get("base_subnet"))


def clear_cache() -> None:
    _file_settings.cache_clear()
