"""The corpus: real compose projects from public repositories (SOURCES.md), as they are.

Without an engine, for every project: compose itself merges cilo's override onto the
project's own files, and the copy must hold every isolation invariant
(tests/invariants.py), two copies asking for no common host-global name.

With the engine, for the projects marked `engine` in corpus.json: the user's own stack
is brought up (pytest-docker's fixtures), then two copies beside it; `docker inspect`
shows their mounts, networks and addresses are their own; after both are destroyed the
user's stack runs on and its volumes keep their data. There is no registry here: every
image is a locally built busybox stand-in tagged with the image's name (tags cilo made
are removed again; an image that already exists is never re-tagged), and a layer of the
test's own replaces entrypoints and healthchecks with ones the stand-in can run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_IMAGE, Cilo
from tests.invariants import compose_json, global_names, render_copy, user_global_names, violations

CORPUS = Path(__file__).parent
PROJECTS: list[dict[str, Any]] = json.loads((CORPUS / "corpus.json").read_text())
ENGINE_PROJECTS = [p for p in PROJECTS if p["engine"]]
STANDIN_LABEL = "cilo.test.standin"


def _slugs(projects: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(p, id=p["slug"]) for p in projects]


def _checkout(project: dict[str, Any], tmp: Path) -> Path:
    """A copy of the project's folder (tests never run in the checkout)."""
    top = project["dir"].split("/")[0]
    shutil.copytree(CORPUS / top, tmp / top, symlinks=True)
    return tmp / project["dir"]


def test_the_corpus_is_big_enough_and_sourced() -> None:
    sources = (CORPUS / "SOURCES.md").read_text()
    assert len(PROJECTS) >= 25 and len(ENGINE_PROJECTS) >= 8
    for p in PROJECTS:
        assert (CORPUS / p["dir"]).is_dir(), p["slug"]
        assert p["slug"] in sources, f"{p['slug']} has no entry in SOURCES.md"


@pytest.mark.parametrize("project", _slugs(PROJECTS))
def test_copies_hold_the_isolation_invariants(project: dict[str, Any], compose_cli: None,
                                              tmp_path: Path) -> None:
    cwd = _checkout(project, tmp_path)
    alpha = render_copy(cwd, project["args"], "alpha", 0, tmp_path, project.get("env"))
    beta = render_copy(cwd, project["args"], "beta", 1, tmp_path, project.get("env"))
    assert violations(alpha) == []
    assert violations(beta) == []
    assert global_names(alpha) & global_names(beta) == set()
    assert global_names(alpha) & user_global_names(alpha.user) == set()
    assert set(alpha.merged["services"]) == set(alpha.user["services"])


# --- with the engine -------------------------------------------------------------------


def _standin_layer(user: dict[str, Any]) -> dict[str, Any]:
    """What the stand-in image can run: a process that idles and stops on TERM, a
    healthcheck that passes, no pulls. Jobs other services wait for complete at once.
    Tagged values replace (not merge with) what the project set."""
    from compose_cilo.override import Override, Reset

    jobs = {dep for s in user["services"].values() for dep, cond in (s.get("depends_on") or {}).items()
            if (cond or {}).get("condition") == "service_completed_successfully"}
    services = {}
    for name, svc in user["services"].items():
        script = "exit 0" if name in jobs else "trap 'exit 0' TERM; while :; do sleep 1; done"
        services[name] = {
            "entrypoint": Override(["sh", "-c", script]), "command": Reset([]),
            "pull_policy": "never", "user": "0:0", "ulimits": Reset({}),
            "healthcheck": Override({"test": ["CMD", "true"], "interval": "1s", "timeout": "1s",
                                     "retries": 30, "start_period": "0s"}),
        }
        if "@" in svc.get("image", ""):  # a digest cannot be a tag: the stand-in takes the name
            services[name]["image"] = _tag_of(svc["image"])
    return {"services": services}


def _tag_of(image: str) -> str:
    return image.split("@", 1)[0]


def _write_layer(user: dict[str, Any], path: Path) -> None:
    from compose_cilo.override import EnvIdentity, render

    path.write_text(render(_standin_layer(user), EnvIdentity("corpus", "standin", "-", "-")))


def _images(user: dict[str, Any]) -> set[str]:
    return {_tag_of(s["image"]) for s in user["services"].values() if s.get("image")}


STANDIN_IMAGE = "cilo-test/standin"


@pytest.fixture(scope="session")
def standin_image(test_image: str) -> str:
    """The busybox test image with a label that says it is a stand-in."""
    subprocess.run(["docker", "build", "-q", "-t", STANDIN_IMAGE, "-"], check=True,
                   capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"},
                   input=f"FROM {test_image}\nLABEL {STANDIN_LABEL}=true\n".encode())
    return STANDIN_IMAGE


@pytest.fixture
def standin_images(request: pytest.FixtureRequest, standin_image: str) -> Iterator[set[str]]:
    """Tag the stand-in as each image the project names; remove only the tags made here."""
    made: list[str] = []
    yield_images: set[str] = set()

    def tag(images: set[str]) -> None:
        for image in sorted(images):
            exists = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
            if exists.returncode != 0:
                subprocess.run(["docker", "tag", standin_image, image], check=True, capture_output=True)
                made.append(image)
            yield_images.add(image)

    request.node.tag_images = tag  # type: ignore[attr-defined]
    try:
        yield yield_images
    finally:
        for image in made:
            subprocess.run(["docker", "rmi", "--no-prune", image], capture_output=True)


@pytest.fixture
def corpus_project(request: pytest.FixtureRequest, tmp_path: Path, unique: str,
                   standin_images: set[str], compose_cli: None) -> Iterator[dict[str, Any]]:
    project = request.param
    cwd = _checkout(project, tmp_path)
    user = compose_json(project["args"], cwd, project.get("env"))
    for image in _images(user):
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
            labels = json.loads(subprocess.run(
                ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image],
                capture_output=True, text=True).stdout or "null") or {}
            if STANDIN_LABEL not in labels and image not in standin_images:
                pytest.fail(f"image {image} exists on this engine and is not a stand-in; "
                            "the corpus test never re-tags an image it did not make")
    request.node.tag_images(_images(user))  # type: ignore[attr-defined]
    layer = tmp_path / "standin.yml"
    _write_layer(user, layer)
    from tests.invariants import user_files

    files = [*(project["args"] or user_files(user, cwd, [])), "-f", str(layer)]
    name = f"{user['name'][:20].rstrip('_-')}{unique}"
    try:
        yield {**project, "cwd": cwd, "files": files, "name": name, "user": user}
    finally:  # pytest-docker cleans up only after a setup that worked: make sure
        subprocess.run(["docker", "compose", *files, "-p", name, "down", "-v", "-t", "0"],
                       cwd=cwd, capture_output=True, timeout=120)


@pytest.fixture
def docker_compose_file(corpus_project: dict[str, Any]) -> list[str]:
    """pytest-docker's compose-file fixture: the project's own files and the stand-in layer."""
    args = corpus_project["files"]
    return [args[i + 1] if Path(args[i + 1]).is_absolute() else str(corpus_project["cwd"] / args[i + 1])
            for i in range(0, len(args), 2)]


@pytest.fixture
def docker_compose_project_name(corpus_project: dict[str, Any]) -> str:
    return str(corpus_project["name"])


@pytest.fixture
def docker_setup() -> list[str]:
    return ["up -d"]


@pytest.fixture
def docker_cleanup() -> list[str]:
    return ["down -v -t 0"]


def _inspect(kind: str, *names: str) -> list[dict[str, Any]]:
    if not names:
        return []
    out = subprocess.run(["docker", kind, "inspect", *names], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _containers(**labels: str) -> list[str]:
    filters = [a for k, v in labels.items() for a in ("--filter", f"label={k}={v}")]
    out = subprocess.run(["docker", "ps", "-aq", *filters], capture_output=True, text=True, check=True)
    return out.stdout.split()


def _user_volumes(project: str) -> list[str]:
    out = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                          f"label=com.docker.compose.project={project}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def _running(project: str) -> bool:
    ids = _containers(**{"com.docker.compose.project": project})
    return bool(ids) and all(c["State"]["Running"] or c["State"]["ExitCode"] == 0
                             for c in _inspect("container", *ids))


def _mark_user_volumes(project: str) -> dict[str, str]:
    """Write a marker into every named volume of the user's stack, through a container."""
    marks = {}
    for vol in _user_volumes(project):
        marks[vol] = f"user-data-{vol}"
        subprocess.run(["docker", "run", "--rm", "-v", f"{vol}:/v", TEST_IMAGE, "sh", "-c",
                        f"echo {marks[vol]} > /v/.cilo-marker"], check=True, capture_output=True)
    return marks


def _read_marker(vol: str) -> str:
    return subprocess.run(["docker", "run", "--rm", "-v", f"{vol}:/v", TEST_IMAGE, "cat",
                           "/v/.cilo-marker"], capture_output=True, text=True).stdout.strip()


def _check_copy(project: str, env: str, user_names: set[str], user_vols: set[str]) -> None:
    ids = _containers(**{"cilo.project": project, "cilo.environment": env})
    assert ids, f"copy {env} has no containers"
    for c in _inspect("container", *ids):
        name = c["Name"].lstrip("/")
        assert name not in user_names, f"copy container {name} takes the user's name"
        assert not any(c["NetworkSettings"]["Ports"].get(p) for p in c["NetworkSettings"]["Ports"]), name
        for m in c["Mounts"]:
            if m["Type"] == "volume" and m.get("Name") in user_vols:
                pytest.fail(f"{name} mounts the user's volume {m['Name']}")
        nets = c["NetworkSettings"]["Networks"]
        for net in _inspect("network", *nets):
            labels = net.get("Labels") or {}
            assert labels.get("cilo.environment") == env, f"{name} is on {net['Name']}, not cilo's"
            subnet = net["IPAM"]["Config"][0]["Subnet"]
            assert subnet.startswith("10.224."), f"{net['Name']} is on {subnet}, not cilo's pool"
            ip = nets[net["Name"]]["IPAddress"]
            assert not ip or ip.startswith(subnet.rsplit(".", 2)[0]), (name, ip, subnet)


@pytest.mark.engine
@pytest.mark.parametrize("corpus_project", _slugs(ENGINE_PROJECTS), indirect=True)
def test_two_copies_beside_the_users_stack(corpus_project: dict[str, Any], docker_services: Any,
                                           cilo: Cilo, unique: str) -> None:
    p = corpus_project
    docker_services.wait_until_responsive(check=lambda: _running(p["name"]), timeout=60, pause=0.5)
    marks = _mark_user_volumes(p["name"])
    user_ids = _containers(**{"com.docker.compose.project": p["name"]})
    user_names = {c["Name"].lstrip("/") for c in _inspect("container", *user_ids)}
    args = [*p["files"], "-p", p["name"]]
    envs = (f"a{unique}", f"b{unique}")
    try:
        for env in envs:
            cilo(*args, "up", env, cwd=p["cwd"], env=p.get("env") or None)
        for env in envs:
            _check_copy(p["name"], env, user_names, set(marks))
        for vol in marks:  # the copies' volumes are their own: no marker there
            target = f"cilo_{p['name']}_{envs[0]}_{vol.removeprefix(p['name'] + '_')}"
            if _inspect("volume", target) if subprocess.run(
                    ["docker", "volume", "inspect", target], capture_output=True).returncode == 0 else []:
                assert _read_marker(target) == "", f"copy volume {target} holds the user's data"
    finally:
        for env in envs:
            cilo(*args, "destroy", env, "--force", cwd=p["cwd"], check=False)
    for env in envs:
        assert _containers(**{"cilo.project": p["name"], "cilo.environment": env}) == []
    assert _running(p["name"]), "the user's stack stopped"
    assert set(_user_volumes(p["name"])) == set(marks)
    for vol, mark in marks.items():
        assert _read_marker(vol) == mark, f"the user's volume {vol} lost its data"
