"""A second Docker engine "elsewhere" for the tests: dockerd in its own network namespace,
reached over TCP on the namespace's address. Its container addresses are not routable
from this host, as on Docker Desktop or a remote machine; only ports it publishes on its
own address answer (FIELD_NOTES: "A second engine elsewhere").

Everything is the session's own: a namespace and veth pair with unique names, a /30 no
interface of this host uses, data and exec roots in a temp folder, its own engine id.
It is stopped and removed when the session ends. Tests never send anything to its
containers' addresses.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

START_WAIT = 90.0  # dockerd listening on TCP without TLS delays its own start (~15-25 s)


class RemoteEngine(NamedTuple):
    address: str  # the namespace's address: where its published ports answer
    host: str  # DOCKER_HOST for it
    netns: str = ""  # its network namespace (/run/netns/NAME)
    ssh: str = ""  # ssh://root@ADDRESS when it runs an sshd (DOCKER_HOST over ssh)
    hidden: Path | None = None  # a folder of this machine it does not see (its own, empty)

    def block(self, on: bool) -> None:
        """Drop (on) or accept again (off) packets to its API port, as a machine that is
        switched off or cut off: docker calls to it then hang until their own timeout."""
        rule = ["INPUT", "-p", "tcp", "--dport", self.host.rpartition(":")[2], "-j", "DROP"]
        subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", "iptables", "-I" if on else "-D", *rule],
                       check=on, capture_output=True, timeout=30)

    def docker(self, *args: str, check: bool = True, input: bytes | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, check=check,
                              input=input, timeout=timeout)


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def _free_pair() -> tuple[str, str]:
    """Host and namespace addresses of a 192.168.250.0/24 /30 that no interface here uses."""
    used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    for net in ipaddress.IPv4Network("192.168.250.0/24").subnets(new_prefix=30):
        hosts = [str(h) for h in net.hosts()]
        if not any(f" {h}/" in used for h in hosts):
            return hosts[0], hosts[1]
    raise RuntimeError("no free /30 in 192.168.250.0/24 for the test engine")


def missing() -> str | None:
    """Why this machine cannot run the second engine, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "nsenter", "dockerd", "docker"):
        if not shutil.which(tool):
            return f"{tool} is not on PATH (./install.sh --dev)"
    return None


def start(root: Path, images: list[str], ssh: bool = False) -> Iterator[RemoteEngine]:
    """Run the engine for as long as the generator is suspended; `images` are loaded into it.

    With `ssh`, the engine is another machine in files too: it and an sshd (its own host
    key, one authorized test key, `DOCKER_HOST` of its sessions set to the engine) run in
    a mount namespace of their own, where `root/hidden` (a folder here) is an empty
    tmpfs and /run is their own. The test's ssh client options live in a file of
    /etc/ssh/ssh_config.d/ that names only the engine's address, removed afterwards.
    """
    tag = uuid.uuid4().hex[:6]
    ns, veth_host, veth_ns = f"cilo-t{tag}", f"vh{tag}", f"vr{tag}"
    host_ip, ns_ip = _free_pair()
    pidfile = root / "docker.pid"
    _sh("ip", "netns", "add", ns)
    proc = sshd = None
    client: Path | None = None
    try:
        _sh("ip", "link", "add", veth_host, "type", "veth", "peer", "name", veth_ns)
        _sh("ip", "link", "set", veth_ns, "netns", ns)
        _sh("ip", "addr", "add", f"{host_ip}/30", "dev", veth_host)
        _sh("ip", "link", "set", veth_host, "up")
        _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", veth_ns)
        _sh("ip", "netns", "exec", ns, "ip", "link", "set", veth_ns, "up")
        _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        config = root / "daemon.json"  # its own key, so its engine id is not this host engine's
        config.write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))
        log = (root / "dockerd.log").open("wb")
        dockerd = ["dockerd", "-H", f"tcp://{ns_ip}:2375", "--config-file", str(config), "--data-root",
                   str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile", str(pidfile)]
        hidden = root / "hidden"
        if ssh:  # its own mount namespace: /run and `hidden` are empty there
            hidden.mkdir()
            dockerd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f'mount -t tmpfs cilo-test /run && mkdir -p /run/sshd && '
                       f'mount -t tmpfs cilo-test "{hidden}" && exec "$@"', "sh", *dockerd]
        # nsenter, not `ip netns exec` (which remounts /sys: dockerd then finds no cgroups)
        proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", *dockerd],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True)
        engine = RemoteEngine(ns_ip, f"tcp://{ns_ip}:2375", ns, f"ssh://root@{ns_ip}" if ssh else "",
                              hidden if ssh else None)
        deadline = time.monotonic() + START_WAIT
        while engine.docker("info", check=False, timeout=10).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test engine did not answer: {(root / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(1)
        for image in images:
            saved = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
            engine.docker("load", "-q", input=saved)
        if ssh:
            sshd, client = _start_sshd(root, ns, ns_ip, proc.pid, tag)
        yield engine
    finally:
        if sshd is not None:
            sshd.terminate()
            sshd.wait(timeout=30)
        if client is not None:
            client.unlink(missing_ok=True)
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)  # takes the veth pair
        subprocess.run(["ip", "link", "del", veth_host], capture_output=True, timeout=30)


SSHD_CONFIG = """\
ListenAddress {address}:22
HostKey {root}/ssh_host_ed25519_key
AuthorizedKeysFile {root}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {root}/sshd.pid
SetEnv DOCKER_HOST=tcp://{address}:2375
"""
CLIENT_CONFIG = """\
# compose-cilo's tests: the ssh engine at {address} (removed when the tests end)
Host {address}
    User root
    IdentityFile {root}/id_ed25519
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
"""


def _start_sshd(root: Path, ns: str, address: str, engine_pid: int, tag: str
                ) -> tuple[subprocess.Popen[bytes], Path]:
    """An sshd beside the engine (its network and mount namespaces); the client's options."""
    for key in ("ssh_host_ed25519_key", "id_ed25519"):
        _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / key))
    (root / "authorized_keys").write_text((root / "id_ed25519.pub").read_text())
    (root / "sshd_config").write_text(SSHD_CONFIG.format(address=address, root=root))
    client = Path("/etc/ssh/ssh_config.d") / f"cilo-test-{tag}.conf"
    client.write_text(CLIENT_CONFIG.format(address=address, root=root))
    log = (root / "sshd.log").open("wb")
    sshd = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", f"--mount=/proc/{engine_pid}/ns/mnt",
                             shutil.which("sshd") or "/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + 30
    while subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", address, "true"],
                         capture_output=True, timeout=30).returncode != 0:
        if sshd.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the test engine's sshd did not answer: {(root / 'sshd.log').read_text()[-2000:]}")
        time.sleep(0.5)
    return sshd, client
