"""User settings as the rest of cilo asks for them; loaded and checked in settings.py.

Environment variables win over `$CILO_HOME/config.json`, then defaults. config.json is
optional, e.g. {"dns_suffix": "test", "dns_port": 5354, "base_subnet": "10.224.0.0/16"}.
"""

from __future__ import annotations

from typing import Any

from . import settings

DEFAULTS: dict[str, Any] = settings.DEFAULTS
ENV_VARS = settings.ENV


def get(key: str) -> Any:
    return getattr(settings.current(), key)


def dns_suffix() -> str:
    return settings.current().dns_suffix


def dns_port() -> int:
    return settings.current().dns_port


def base_subnet() -> str:
    return settings.current().base_subnet


def clear_cache() -> None:
    settings.clear_cache()
