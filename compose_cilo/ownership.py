"""Which cilo home a resource belongs to: one engine can serve several homes.

Each home has an id, made when it first creates an environment and kept in its state
(`home_id`); every container, network and volume an environment creates carries it as
the label `cilo.home`. A home acts only on what carries its id, or no home id at all
(made by a cilo from before home ids). Everything else is another home's: reported,
never adopted or removed unless the user names it (`doctor --fix --adopt-foreign`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

from .model import LABEL_HOME

FOREIGN_FIELD = "foreign_home"  # an environment adopted from another home keeps its id


class Labelled(Protocol):
    @property
    def labels(self) -> dict[str, str]: ...


T = TypeVar("T", bound=Labelled)


def new_home_id() -> str:
    import uuid

    return uuid.uuid4().hex[:16]


def home_id(doc: Mapping[str, Any]) -> str | None:
    value = doc.get("home_id")
    return str(value) if value else None


def ensure_home_id(doc: dict[str, Any]) -> str:
    """The home's id, made now if this state has none yet (inside the state lock)."""
    if not doc.get("home_id"):
        doc["home_id"] = new_home_id()
    return str(doc["home_id"])


def record_home(record: Mapping[str, Any], home: str | None) -> str | None:
    """The id an environment's resources carry: the home's, or the one it was adopted from."""
    return record.get(FOREIGN_FIELD) or home


def is_mine(labels: Mapping[str, str], home: str | None, record: Mapping[str, Any] | None = None) -> bool:
    owner = labels.get(LABEL_HOME)
    if owner is None:
        return True  # made before home ids existed
    return owner == (record_home(record, home) if record is not None else home)


def owned(objs: Iterable[T], home: str | None, record: Mapping[str, Any] | None = None) -> list[T]:
    return [o for o in objs if is_mine(o.labels, home, record)]


def foreign(objs: Iterable[T], home: str | None) -> list[T]:
    return [o for o in objs if not is_mine(o.labels, home)]
