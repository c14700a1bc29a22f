#!/usr/bin/env bash
# One entry point for a fresh machine: installs what Mamori needs, then runs the demo or the tests.
#
#   deploy/local/run.sh demo [demo options]    install, start local Kafka + all services + simulator, show detections
#   deploy/local/run.sh test [vitest options]  install, typecheck, run the full test suite (starts its own Kafka)
#   deploy/local/run.sh install                install only
#
# Needs: Node.js 20+, Java 17+, Maven 3.6+ (the Kafka broker is fetched from Maven Central once).
# pnpm 12.4.2 is used from PATH when it is that version, otherwise run through npx (nothing global is changed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PNPM_VERSION=12.4.2

die() { echo "run.sh: error: $*" >&2; exit 1; }
info() { echo "run.sh: $*" >&2; }

check_node() {
  command -v node >/dev/null 2>&1 || die "no 'node' on PATH; install Node.js 20 or later"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js $(node --version) found; Mamori needs Node.js 20 or later"
}

pnpm_cmd() {
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
    pnpm "$@"
  else
    command -v npx >/dev/null 2>&1 || die "neither pnpm $PNPM_VERSION nor npx found; install npm (comes with Node.js)"
    npx --yes "pnpm@$PNPM_VERSION" "$@"
  fi
}

install() {
  check_node
  # node-rdkafka compiles librdkafka against Node's headers; use the ones installed with Node when
  # present instead of downloading them.
  local prefix
  prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node.h" ]; then
    export npm_config_nodedir="$prefix"
  fi
  info "installing dependencies (first run compiles librdkafka: a few minutes)"
  pnpm_cmd install --frozen-lockfile --reporter=append-only
  info "fetching the Kafka broker (cached after the first run)"
  bash "$ROOT/deploy/local/kafka.sh" fetch
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  install)
    install
    ;;
  demo)
    install
    exec node --import tsx "$ROOT/services/cli/src/main.ts" demo "$@"
    ;;
  test)
    install
    # The ops tests validate alert rules with promtool and scrape with a real Prometheus (Debian's package).
    if ! command -v promtool >/dev/null 2>&1 || [ ! -x /usr/bin/prometheus ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        info "installing Prometheus (Debian package) for the operations tests"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null 2>&1 \
          || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; } \
          || die "could not install the Debian package prometheus (needed by the operations tests)"
      else
        info "promtool not found: the Prometheus tests will be skipped (install the Debian package 'prometheus')"
      fi
    fi
    info "typechecking"
    pnpm_cmd run typecheck
    report="$(mktemp -t mamori-vitest-XXXXXX.json)"
    status=0
    pnpm_cmd exec vitest run --config test/vitest.config.ts --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
    # A plain closing line that any CI can read.
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
      console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
    ' "$report" || true
    rm -f "$report"
    exit "$status"
    ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
