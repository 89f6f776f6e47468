"""cilo loads exactly the project plain `docker compose` loads in a folder (issue 10, item 7).

Each case lays out a scratch project, runs `docker compose config` plainly in the case's
working folder, and compares it with what cilo's recorded target gives compose when run
from an unrelated folder (as `docker cilo up PROJECT/ENV` from anywhere does).

What compose 2.40 does (measured, and read in compose's cmd/compose/compose.go and
compose-go's cli/options.go): COMPOSE_* settings come from the environment, then the
`.env` of the working folder (`--project-directory`, else the first `-f` file's folder,
else the current folder). Interpolation reads the environment, then that same `.env`, then
the `.env` beside the first compose file; the first to set a variable wins. Relative
COMPOSE_FILE paths resolve against the current folder, the project is the first file's
folder (or `--project-directory`), named after it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compose_cilo.engine.client import connect
from compose_cilo.engine.options import DockerOptions
from compose_cilo.lifecycle import new_record, user_target
from compose_cilo.project import ComposeOptions, model_from_config, resolve_target

pytestmark = pytest.mark.engine

SERVICE = """services:
  s:
    image: cilo-test/busybox
    environment:
      V: ${V:-default}
      W: ${W:-default}
      SECRET: ${SECRET:?SECRET is required}
    volumes: [./data:/data]
  extra:
    image: cilo-test/busybox
    profiles: [p]
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


class Case:
    def __init__(self, files: dict[str, str], cwd: str = ".", args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, opts: Callable[[Path], ComposeOptions] | None = None
                 ) -> None:
        self.files, self.cwd, self.args, self.env = files, cwd, args, env or {}
        self.opts = opts or (lambda root: ComposeOptions())


CASES = {
    "dotenv COMPOSE_FILE into a subfolder": Case({
        ".env": "COMPOSE_FILE=overrides/compose.yaml\nV=root\nSECRET=s3cret\n",
        "overrides/compose.yaml": SERVICE,
        "overrides/.env": "V=sub\nW=sub\n",
    }),
    "dotenv COMPOSE_FILE into a subfolder without its own .env": Case({
        ".env": "COMPOSE_FILE=overrides/compose.yaml\nSECRET=s3cret\nW=root\n",
        "overrides/compose.yaml": SERVICE,
    }),
    "subfolder .env refers to the working folder's": Case({
        ".env": "COMPOSE_FILE=sub/compose.yaml\nV=root\n",
        "sub/compose.yaml": SERVICE,
        "sub/.env": "W=${V}-w\nSECRET=from-sub\n",
    }),
    "name and profiles only in the compose folder's .env": Case({
        ".env": "COMPOSE_FILE=overrides/compose.yaml\nSECRET=x\n",
        "overrides/compose.yaml": SERVICE,
        "overrides/.env": "COMPOSE_PROJECT_NAME=subname\nCOMPOSE_PROFILES=p\n",
    }),
    "COMPOSE_FILE in the environment": Case({
        ".env": "V=root\nSECRET=s\n",
        "overrides/compose.yaml": SERVICE,
        "overrides/.env": "V=sub\nW=sub\n",
    }, env={"COMPOSE_FILE": "overrides/compose.yaml"}),
    "compose file in a parent folder": Case({
        "compose.yaml": SERVICE,
        ".env": "V=root\nSECRET=root\n",
        "sub/deep/.env": "V=deep\n",
    }, cwd="sub/deep"),
    "--project-directory": Case({
        "compose.yaml": "services: {}\n",
        ".env": "V=cwd\nSECRET=cwd\n",
        "other/compose.yaml": SERVICE,
        "other/.env": "V=other\nSECRET=other\n",
    }, args=("--project-directory", "other"),
        opts=lambda root: ComposeOptions(project_directory="other")),
    "COMPOSE_FILE with --project-directory resolves against the working folder": Case({
        "compose.yaml": SERVICE,
        ".env": "SECRET=cwd\n",
        "other/compose.yaml": "services: {}\n",
        "other/.env": "COMPOSE_FILE=compose.yaml\nSECRET=other\n",
    }, args=("--project-directory", "other"),
        opts=lambda root: ComposeOptions(project_directory="other")),
    "--env-file": Case({
        "other/compose.yaml": SERVICE,
        "other/.env": "V=other\nSECRET=other\n",
        "x.env": "V=x\nSECRET=x\n",
    }, args=("-f", "other/compose.yaml", "--env-file", "x.env"),
        opts=lambda root: ComposeOptions(files=("other/compose.yaml",), env_files=("x.env",))),
    "-f into another folder": Case({
        ".env": "V=cwd\nSECRET=cwd\n",
        "other/compose.yaml": SERVICE,
        "other/.env": "V=other\nSECRET=other\n",
    }, args=("-f", "other/compose.yaml"),
        opts=lambda root: ComposeOptions(files=("other/compose.yaml",))),
}


def plain_config(cwd: Path, args: tuple[str, ...], env: dict[str, str]) -> dict[str, Any]:
    import os

    plugin = DockerOptions().compose_plugin()
    assert plugin, "no docker-compose plugin found"
    proc = subprocess.run([plugin, "--profile", "*", *args, "config", "--format", "json"],
                          cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


@pytest.mark.parametrize("name", list(CASES))
def test_cilo_loads_the_project_compose_loads(name: str, tmp_path: Path, engine_available: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    root = tmp_path / "proj"
    _write(root, case.files)
    cwd = root / case.cwd
    cwd.mkdir(parents=True, exist_ok=True)
    expected = plain_config(cwd, case.args, case.env)

    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    engine = connect(DockerOptions())
    target = resolve_target(case.opts(root), cwd)
    model = model_from_config(engine.compose_config(target))
    record = new_record(target, model.name, "dev", "10.224.0.0/24", copy=False)
    for key in case.env:  # later runs come from anywhere, without the user's shell
        monkeypatch.delenv(key)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert engine.compose_config(user_target(record)) == expected
