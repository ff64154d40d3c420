#!/usr/bin/env bash
# Local infrastructure without Docker: RabbitMQ from Debian's package and FerretDB (SQLite
# backend) built from the Go module proxy. Sourced by ./crm; every function is idempotent.
# Data lives under $CRM_DATA (default: <repo>/.data), so it survives restarts.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CRM_DATA=${CRM_DATA:-$ROOT/.data}
FERRETDB_VERSION=v1.24.2
FERRETDB_BIN=$ROOT/.cache/ferretdb-$FERRETDB_VERSION
FERRETDB_ADDR=${FERRETDB_ADDR:-127.0.0.1:27017}
RABBIT_PORT=${RABBIT_PORT:-5672}
export RABBITMQ_NODENAME=${RABBITMQ_NODENAME:-crm@localhost}
export RABBITMQ_MNESIA_BASE=$CRM_DATA/rabbitmq/mnesia
export RABBITMQ_LOG_BASE=$CRM_DATA/rabbitmq/log
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$RABBIT_PORT
export RABBITMQ_DIST_PORT=${RABBITMQ_DIST_PORT:-25672}
export RABBITMQ_PID_FILE=$CRM_DATA/rabbitmq/rabbit.pid
# A config of our own so the system's file doesn't leak in; no management plugin needed here.
export RABBITMQ_CONFIG_FILE=$CRM_DATA/rabbitmq/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$CRM_DATA/rabbitmq/enabled_plugins

# Debian's /usr/sbin wrappers switch to the rabbitmq user, who cannot use our data folder;
# the real scripts run as whoever starts the project.
RABBIT_BIN=/usr/lib/rabbitmq/bin
rabbitmqctl() { "$RABBIT_BIN/rabbitmqctl" "$@"; }

log() { printf '\033[1m[infra]\033[0m %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Generated once, kept in .data/secrets.env: the broker password and the API token of a local
# run. Nothing in the code has a default credential; values already in the environment win.
load_secrets() {
  local f=$CRM_DATA/secrets.env
  mkdir -p "$CRM_DATA"
  if [ ! -f "$f" ]; then
    umask 077
    {
      echo "CRM_RABBIT_USER=crm"
      echo "CRM_RABBIT_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
      echo "CRM_API_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    } > "$f"
  fi
  set -a
  # shellcheck disable=SC1090
  . <(grep -v '^#' "$f" | while IFS='=' read -r k v; do [ -z "${!k:-}" ] && echo "$k=$v"; done)
  set +a
  export RABBITMQ_URL=${RABBITMQ_URL:-amqp://$CRM_RABBIT_USER:$CRM_RABBIT_PASSWORD@127.0.0.1:$RABBIT_PORT/}
  export MONGODB_URL=${MONGODB_URL:-mongodb://$FERRETDB_ADDR/}
  export CRM_API_TOKENS=${CRM_API_TOKENS:-$CRM_API_TOKEN}
}

rabbit_install() {
  [ -x "$RABBIT_BIN/rabbitmq-server" ] && return 0
  log "installing rabbitmq-server from Debian"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq rabbitmq-server >/dev/null
  # The package may start a system node on the default ports; ours runs from .data instead.
  as_root service rabbitmq-server stop >/dev/null 2>&1 || true
}

rabbit_running() { rabbitmqctl -q status >/dev/null 2>&1; }

rabbit_start() {
  rabbit_install
  mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  [ -f "$RABBITMQ_CONFIG_FILE.conf" ] || cat > "$RABBITMQ_CONFIG_FILE.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RABBIT_PORT
loopback_users = none
log.console = false
CONF
  [ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
  if ! rabbit_running; then
    log "starting RabbitMQ ($RABBITMQ_NODENAME, port $RABBIT_PORT)"
    "$RABBIT_BIN/rabbitmq-server" -detached >>"$RABBITMQ_LOG_BASE/startup.log" 2>&1
  fi
  local i
  for i in $(seq 1 120); do
    rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1 && break
    [ "$i" = 120 ] && { log "RabbitMQ did not start; see $RABBITMQ_LOG_BASE"; return 1; }
    sleep 1
  done
  # Our own user from secrets; the default guest user is removed.
  if ! rabbitmqctl -q list_users 2>/dev/null | grep -q "^$CRM_RABBIT_USER\b"; then
    rabbitmqctl -q add_user "$CRM_RABBIT_USER" "$CRM_RABBIT_PASSWORD" >/dev/null
    rabbitmqctl -q set_user_tags "$CRM_RABBIT_USER" administrator >/dev/null
    rabbitmqctl -q set_permissions -p / "$CRM_RABBIT_USER" '.*' '.*' '.*' >/dev/null
  else
    rabbitmqctl -q change_password "$CRM_RABBIT_USER" "$CRM_RABBIT_PASSWORD" >/dev/null
  fi
  rabbitmqctl -q delete_user guest >/dev/null 2>&1 || true
}

rabbit_stop() {
  [ -x "$RABBIT_BIN/rabbitmqctl" ] || return 0
  rabbit_running && { log "stopping RabbitMQ"; rabbitmqctl -q stop >/dev/null 2>&1 || true; }
  return 0
}

ferretdb_build() {
  [ -x "$FERRETDB_BIN" ] && return 0
  command -v go >/dev/null || { log "Go is required to build FerretDB"; return 1; }
  log "building FerretDB $FERRETDB_VERSION (first run only; about a minute)"
  mkdir -p "$ROOT/.cache"
  (cd "$ROOT/infra/ferretdb" && CGO_ENABLED=0 go build -o "$FERRETDB_BIN.tmp" . && mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN")
}

ferretdb_pidfile() { echo "$CRM_DATA/ferretdb.pid"; }

ferretdb_running() {
  local pid; pid=$(cat "$(ferretdb_pidfile)" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

ferretdb_start() {
  ferretdb_build
  if ! ferretdb_running; then
    if port_open "$FERRETDB_ADDR"; then log "something else already listens on $FERRETDB_ADDR"; return 1; fi
    log "starting FerretDB on $FERRETDB_ADDR (data in $CRM_DATA/ferretdb)"
    mkdir -p "$CRM_DATA/ferretdb"
    nohup "$FERRETDB_BIN" -listen "$FERRETDB_ADDR" -data "$CRM_DATA/ferretdb" \
      >>"$CRM_DATA/ferretdb.log" 2>&1 &
    echo $! > "$(ferretdb_pidfile)"
  fi
  for _ in $(seq 1 100); do port_open "$FERRETDB_ADDR" && return 0; sleep 0.1; done
  log "FerretDB did not start; see $CRM_DATA/ferretdb.log"; return 1
}

ferretdb_stop() {
  ferretdb_running || return 0
  log "stopping FerretDB"
  local pid; pid=$(cat "$(ferretdb_pidfile)")
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$(ferretdb_pidfile)"
}

infra_start() { load_secrets; rabbit_start; ferretdb_start; }
infra_stop() { ferretdb_stop; rabbit_stop; }
