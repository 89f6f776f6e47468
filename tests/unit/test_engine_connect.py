"""connect() picks the implementation once, cheaply; both implement the whole interface."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compose_cilo.engine.api import EngineAPI
from compose_cilo.engine.client import connect
from compose_cilo.engine.options import DockerOptions
from compose_cilo.engine.socketengine import SocketEngine
from compose_cilo.engine.whalesengine import WhalesEngine
from compose_cilo.project import ComposeTarget

MEMBERS = [*EngineAPI.__annotations__, *(n for n in vars(EngineAPI) if not n.startswith("_"))]
OPTS = DockerOptions(context="prod")
IMPLEMENTATIONS = [SocketEngine(OPTS, "/x.sock"), WhalesEngine(OPTS)]


@pytest.mark.parametrize(("opts", "api", "expected"), [
    (DockerOptions(host="unix:///nonexistent.sock"), None, SocketEngine),
    (DockerOptions(host="unix:///nonexistent.sock"), "cli", WhalesEngine),
    (DockerOptions(host="unix:///nonexistent.sock", tlsverify=True), None, WhalesEngine),
    (DockerOptions(host="unix:///nonexistent.sock", tls=True), None, WhalesEngine),
    (DockerOptions(host="tcp://box:2376"), None, WhalesEngine),
    (DockerOptions(host="ssh://me@box"), None, WhalesEngine),
])
def test_connect_picks_by_endpoint(opts: DockerOptions, api: str | None, expected: type,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if api:
        monkeypatch.setenv("CILO_ENGINE_API", api)
    else:
        monkeypatch.delenv("CILO_ENGINE_API", raising=False)
    eng = connect(opts)
    assert type(eng) is expected and eng.opts == opts


def test_connecting_asks_nothing_of_the_engine_and_imports_nothing_heavy() -> None:
    """A socket that does not exist is fine until the first call; and neither path
    imports python-on-whales or pydantic before it is used."""
    code = (
        "import sys\n"
        "from compose_cilo.engine.client import connect\nfrom compose_cilo.engine.options import DockerOptions\n"
        "connect(DockerOptions(host='unix:///nonexistent.sock'))\n"
        "connect(DockerOptions(host='tcp://box:2376'))\n"
        "print(sorted(m for m in ('python_on_whales', 'pydantic') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("eng", IMPLEMENTATIONS, ids=lambda e: type(e).__name__)
def test_each_implementation_has_the_whole_interface(eng: EngineAPI) -> None:
    assert [m for m in MEMBERS if not hasattr(eng, m)] == []


@pytest.mark.parametrize("eng", IMPLEMENTATIONS, ids=lambda e: type(e).__name__)
def test_both_run_compose_the_same_way(eng: EngineAPI) -> None:
    target = ComposeTarget(("compose.yaml",), "/src/shop", profiles=("dev",), project_name="p")
    assert eng.compose_argv(target)[1:] == [
        "--context", "prod", "compose", "--project-directory", "/src/shop",
        "--file", "compose.yaml", "--profile", "dev", "--project-name", "p"]
