#!/usr/bin/env bash
# Local infrastructure without Docker: RabbitMQ and PostgreSQL from Debian's packages,
# FerretDB 1.24 on that PostgreSQL and Mailpit (SMTP server with a web inbox and an API, where
# the engagement service's mail lands), both built from the Go module proxy. Sourced by ./crm; every
# function is idempotent. Data lives under $CRM_DATA (default: <repo>/.data), so it survives
# restarts. Why PostgreSQL and not SQLite: FerretDB/SQLite pushes no filter down but `_id`, and
# even that scans, so every query decodes its whole collection; on PostgreSQL equality filters
# are pushed down and served by the GIN indexes the services add (crm_servicekit.pgindexes).

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CRM_DATA=${CRM_DATA:-$ROOT/.data}
FERRETDB_VERSION=v1.24.2
# The binary's name follows its source, so a changed main.go is rebuilt.
FERRETDB_BIN=$ROOT/.cache/ferretdb-$FERRETDB_VERSION-$(cat "$ROOT/infra/ferretdb/main.go" "$ROOT/infra/ferretdb/go.mod" | sha1sum | cut -c1-8)
FERRETDB_ADDR=${FERRETDB_ADDR:-127.0.0.1:27017}
PG_PORT=${PG_PORT:-5442}
# Checks docker-compose.yml as `docker compose config` would, without an engine (infra/composecheck).
COMPOSECHECK_BIN=$ROOT/.cache/composecheck-$(cat "$ROOT/infra/composecheck/main.go" "$ROOT/infra/composecheck/go.mod" | sha1sum | cut -c1-8)
MAILPIT_VERSION=v1.33.1
MAILPIT_BIN=$ROOT/.cache/mailpit-$MAILPIT_VERSION
MAILPIT_SMTP_PORT=${MAILPIT_SMTP_PORT:-1025}
MAILPIT_HTTP_PORT=${MAILPIT_HTTP_PORT:-8025}
PGDATA_DIR=$CRM_DATA/postgres  # see pg_resolve_data
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
  # Added later than the others: an older secrets file gains it.
  grep -q '^CRM_PG_PASSWORD=' "$f" || echo "CRM_PG_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >> "$f"
  set -a
  # shellcheck disable=SC1090
  . <(grep -v '^#' "$f" | while IFS='=' read -r k v; do [ -z "${!k:-}" ] && echo "$k=$v"; done)
  set +a
  export RABBITMQ_URL=${RABBITMQ_URL:-amqp://$CRM_RABBIT_USER:$CRM_RABBIT_PASSWORD@127.0.0.1:$RABBIT_PORT/}
  export MONGODB_URL=${MONGODB_URL:-mongodb://$FERRETDB_ADDR/}
  # FerretDB's own PostgreSQL: the services add the expression indexes FerretDB needs there.
  # pool_max_conns: FerretDB 1.24 keeps a PostgreSQL connection for every open cursor and for
  # every statement of an update command until the command ends (and an update needs a second
  # one to write). With its pool (50 by default) exhausted, those waiting for a connection while
  # holding one never get it: the server hangs. Hence 200, and no multi-statement updates
  # (crm_servicekit.outbox).
  export CRM_FERRETDB_POSTGRESQL_URL=${CRM_FERRETDB_POSTGRESQL_URL:-postgres://crm:$CRM_PG_PASSWORD@127.0.0.1:$PG_PORT/ferretdb?pool_max_conns=200}
  export CRM_API_TOKENS=${CRM_API_TOKENS:-$CRM_API_TOKEN}
  # Where the engagement service sends mail: the local Mailpit (no TLS, no credentials).
  export CRM_SMTP_HOST=${CRM_SMTP_HOST:-127.0.0.1} CRM_SMTP_PORT=${CRM_SMTP_PORT:-$MAILPIT_SMTP_PORT}
  export CRM_MAILPIT_URL=${CRM_MAILPIT_URL:-http://127.0.0.1:$MAILPIT_HTTP_PORT}
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
  # The consistent-hash exchange (shipped with RabbitMQ) spreads events over partitions
  # (CRM_PARTITIONS, docs/scaling.md).
  echo '[rabbitmq_consistent_hash_exchange].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
  if rabbit_running; then
    "$RABBIT_BIN/rabbitmq-plugins" -q enable rabbitmq_consistent_hash_exchange >/dev/null 2>&1 || true
  else
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

# PostgreSQL: a private cluster of the project's own under $CRM_DATA/postgres, on 127.0.0.1
# only, password (scram) authentication over TCP with the generated CRM_PG_PASSWORD.
pg_bin() {
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && echo "$d"
}

pg_install() {
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] && return 0
  log "installing postgresql from Debian"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
  # The package may start a system cluster; ours runs from $CRM_DATA on a port of its own.
  as_root service postgresql stop >/dev/null 2>&1 || true
}

# initdb and the server refuse to run as root: as root they run as the postgres user.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# As root the cluster belongs to the postgres user, who must be able to reach $CRM_DATA; a
# checkout under a private home (/root is 0700) is not reachable, so the cluster then lives in
# postgres's own home instead, under a name derived from $CRM_DATA.
pg_resolve_data() {
  PGDATA_DIR=$CRM_DATA/postgres
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    mkdir -p "$CRM_DATA"
    if ! runuser -u postgres -- test -x "$CRM_DATA"; then
      PGDATA_DIR=/var/lib/postgresql/crm-$(printf %s "$CRM_DATA" | sha1sum | cut -c1-12)
    fi
  fi
}

pg_ctl_() { pg_as_owner "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR" "$@"; }

pg_running() { pg_resolve_data; [ -f "$PGDATA_DIR/postmaster.pid" ] && pg_ctl_ status >/dev/null 2>&1; }

pg_start() {
  pg_install
  pg_resolve_data
  local bin; bin=$(pg_bin)
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster in $PGDATA_DIR"
    mkdir -p "$PGDATA_DIR"
    local pw; pw=$(mktemp)
    printf '%s\n' "$CRM_PG_PASSWORD" > "$pw"
    if [ "$(id -u)" = 0 ]; then chown postgres "$PGDATA_DIR" "$pw"; fi
    chmod 700 "$PGDATA_DIR"
    pg_as_owner "$bin/initdb" -D "$PGDATA_DIR" -U crm --pwfile="$pw" -E UTF8 --locale=C.UTF-8 \
      --auth-local=scram-sha-256 --auth-host=scram-sha-256 >"$CRM_DATA/postgres-initdb.log" 2>&1 \
      || { rm -f "$pw"; log "initdb failed; see $CRM_DATA/postgres-initdb.log"; return 1; }
    rm -f "$pw"
    cat >> "$PGDATA_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
# A disposable development store: a crash may lose the last commits, never corrupt.
synchronous_commit = off
CONF
  fi
  if ! pg_running; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT (data in $PGDATA_DIR)"
    pg_ctl_ -w -t 60 -l "$PGDATA_DIR/server.log" -o "-p $PG_PORT -c max_connections=250" start >/dev/null \
      || { log "PostgreSQL did not start; see $PGDATA_DIR/server.log"; return 1; }
  fi
  if ! PGPASSWORD=$CRM_PG_PASSWORD "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U crm -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'" | grep -q 1; then
    PGPASSWORD=$CRM_PG_PASSWORD "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U crm ferretdb
  fi
}

pg_stop() {
  [ -n "$(pg_bin)" ] || return 0
  pg_running && { log "stopping PostgreSQL"; pg_ctl_ -m fast -w stop >/dev/null 2>&1 || true; }
  return 0
}

ferretdb_build() {
  [ -x "$FERRETDB_BIN" ] && return 0
  command -v go >/dev/null || { log "Go is required to build FerretDB"; return 1; }
  log "building FerretDB $FERRETDB_VERSION (first run only; about a minute)"
  mkdir -p "$ROOT/.cache"
  (cd "$ROOT/infra/ferretdb" && CGO_ENABLED=0 go build -o "$FERRETDB_BIN.tmp" . && mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN")
}

composecheck_build() {
  [ -x "$COMPOSECHECK_BIN" ] && return 0
  command -v go >/dev/null || { log "Go is required to build composecheck"; return 1; }
  log "building composecheck (compose-go, the loader of docker compose; first run only)"
  mkdir -p "$ROOT/.cache"
  (cd "$ROOT/infra/composecheck" && CGO_ENABLED=0 go build -o "$COMPOSECHECK_BIN.tmp" . \
    && mv "$COMPOSECHECK_BIN.tmp" "$COMPOSECHECK_BIN")
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
    log "starting FerretDB on $FERRETDB_ADDR (on PostgreSQL port $PG_PORT)"
    FERRETDB_POSTGRESQL_URL=$CRM_FERRETDB_POSTGRESQL_URL nohup "$FERRETDB_BIN" \
      -listen "$FERRETDB_ADDR" -handler postgresql -log-level "${FERRETDB_LOG_LEVEL:-warn}" \
      ${FERRETDB_PPROF_ADDR:+-pprof "$FERRETDB_PPROF_ADDR"} >>"$CRM_DATA/ferretdb.log" 2>&1 &
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

mailpit_build() {
  [ -x "$MAILPIT_BIN" ] && return 0
  command -v go >/dev/null || { log "Go is required to build Mailpit"; return 1; }
  log "building Mailpit $MAILPIT_VERSION (first run only; about a minute)"
  mkdir -p "$ROOT/.cache"
  local gobin; gobin=$(mktemp -d "$ROOT/.cache/mailpit-build.XXXX")
  (CGO_ENABLED=0 GOBIN=$gobin go install "github.com/axllent/mailpit@$MAILPIT_VERSION" \
    && mv "$gobin/mailpit" "$MAILPIT_BIN") || { rm -rf "$gobin"; return 1; }
  rm -rf "$gobin"
}

mailpit_pidfile() { echo "$CRM_DATA/mailpit.pid"; }

mailpit_running() {
  local pid; pid=$(cat "$(mailpit_pidfile)" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

mailpit_start() {
  mailpit_build
  if ! mailpit_running; then
    if port_open "127.0.0.1:$MAILPIT_SMTP_PORT"; then
      log "something else already listens on 127.0.0.1:$MAILPIT_SMTP_PORT"; return 1
    fi
    log "starting Mailpit (SMTP 127.0.0.1:$MAILPIT_SMTP_PORT, inbox http://127.0.0.1:$MAILPIT_HTTP_PORT)"
    mkdir -p "$CRM_DATA"
    nohup "$MAILPIT_BIN" --listen "127.0.0.1:$MAILPIT_HTTP_PORT" --smtp "127.0.0.1:$MAILPIT_SMTP_PORT" \
      --database "$CRM_DATA/mailpit.db" --max 5000 --disable-version-check \
      --smtp-auth-accept-any --smtp-auth-allow-insecure --block-remote-css-and-fonts \
      >>"$CRM_DATA/mailpit.log" 2>&1 &
    echo $! > "$(mailpit_pidfile)"
  fi
  for _ in $(seq 1 100); do port_open "127.0.0.1:$MAILPIT_HTTP_PORT" && return 0; sleep 0.1; done
  log "Mailpit did not start; see $CRM_DATA/mailpit.log"; return 1
}

mailpit_stop() {
  mailpit_running || return 0
  log "stopping Mailpit"
  local pid; pid=$(cat "$(mailpit_pidfile)")
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$(mailpit_pidfile)"
}

infra_start() { load_secrets; rabbit_start; pg_start; ferretdb_start; mailpit_start; }
infra_stop() { mailpit_stop; ferretdb_stop; pg_stop; rabbit_stop; }

# A three-node RabbitMQ cluster on this machine, beside (not instead of) the single node above:
# what tests/system/test_cluster_faults.py (and `./crm up --rabbit-nodes 3`) run against.
# Nodes ${RABBIT_CLUSTER_NAME}1..3@localhost, AMQP ports RABBIT_CLUSTER_PORT+0..2 and Erlang
# distribution ports RABBIT_CLUSTER_DIST_PORT+0..2, all on 127.0.0.1 only. Everything of a node
# (mnesia, logs, config, enabled plugins, PID file) lives in $RABBIT_CLUSTER_DIR/<node>, never in
# the single node's files; the three share one Erlang cookie generated into
# $RABBIT_CLUSTER_DIR/.erlang.cookie (the node and the CLI get that folder as HOME, so the user's
# own ~/.erlang.cookie, which the single node uses, is untouched). The broker user and password
# are the single node's (load_secrets). Quorum queues get a member on each of the three nodes
# (their initial group size is the cluster's size), so one node may be down without any queue
# being unavailable.
RABBIT_CLUSTER_NAME=${RABBIT_CLUSTER_NAME:-crm-c}
RABBIT_CLUSTER_PORT=${RABBIT_CLUSTER_PORT:-5690}
RABBIT_CLUSTER_DIST_PORT=${RABBIT_CLUSTER_DIST_PORT:-25690}
RABBIT_CLUSTER_DIR=${RABBIT_CLUSTER_DIR:-$CRM_DATA/rabbitmq-cluster}
RABBIT_CLUSTER_SIZE=3

rabbit_cluster_node() { echo "$RABBIT_CLUSTER_NAME$1@localhost"; }  # N (1..3): its node name
rabbit_cluster_port() { echo $((RABBIT_CLUSTER_PORT + $1 - 1)); }   # N: its AMQP port

rabbit_cluster_urls() {  # one AMQP URL per node, node 1 first (the services take one each)
  load_secrets
  local n
  for n in $(seq 1 "$RABBIT_CLUSTER_SIZE"); do
    echo "amqp://$CRM_RABBIT_USER:$CRM_RABBIT_PASSWORD@127.0.0.1:$(rabbit_cluster_port "$n")/"
  done
}

# Node N's environment, in the calling (sub)shell only: it replaces every RABBITMQ_* variable
# the single node's functions export, so nothing of the single node leaks into a cluster node.
_rabbit_cluster_env() {
  local n=$1 dir
  dir=$RABBIT_CLUSTER_DIR/$(rabbit_cluster_node "$n")
  export HOME=$RABBIT_CLUSTER_DIR  # Erlang reads the cookie from $HOME/.erlang.cookie
  export RABBITMQ_NODENAME RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log
  RABBITMQ_NODENAME=$(rabbit_cluster_node "$n")
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT
  RABBITMQ_NODE_PORT=$(rabbit_cluster_port "$n")
  RABBITMQ_DIST_PORT=$((RABBIT_CLUSTER_DIST_PORT + n - 1))
  export RABBITMQ_PID_FILE=$dir/rabbit.pid RABBITMQ_CONFIG_FILE=$dir/rabbitmq
  export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
  # Inter-node traffic on the loopback interface only, like AMQP.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export ERL_EPMD_ADDRESS=127.0.0.1  # if this node is the one that starts epmd
}

rabbit_cluster_ctl() {  # N ARGS...: rabbitmqctl against node N
  local n=$1; shift
  (_rabbit_cluster_env "$n" && "$RABBIT_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@")
}

rabbit_cluster_node_running() { rabbit_cluster_ctl "$1" -q ping >/dev/null 2>&1; }

_rabbit_cluster_cookie() {
  local f=$RABBIT_CLUSTER_DIR/.erlang.cookie
  [ -s "$f" ] && return 0
  mkdir -p "$RABBIT_CLUSTER_DIR"
  (umask 077; head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 > "$f")
  chmod 400 "$f"
}

_rabbit_cluster_boot() {  # N: launches node N detached (returns at once; see _rabbit_cluster_wait)
  local n=$1
  rabbit_cluster_node_running "$n" && return 0
  (
    _rabbit_cluster_env "$n"
    mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    cat > "$RABBITMQ_CONFIG_FILE.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_NODE_PORT
loopback_users = none
log.console = false
CONF
    # The consistent-hash exchange, as on the single node (event partitions, docs/scaling.md).
    echo '[rabbitmq_consistent_hash_exchange].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    rm -f "$RABBITMQ_PID_FILE"
    "$RABBIT_BIN/rabbitmq-server" -detached >>"$RABBITMQ_LOG_BASE/startup.log" 2>&1
  )
}

_rabbit_cluster_wait() {  # N: until node N's broker is up (a restarted member syncs first)
  local n=$1 deadline=$((SECONDS + 120))
  while [ "$SECONDS" -lt "$deadline" ]; do
    rabbit_cluster_ctl "$n" -q await_startup --timeout 5 >/dev/null 2>&1 && return 0
    sleep 1
  done
  log "RabbitMQ node $(rabbit_cluster_node "$n") did not start; see $RABBIT_CLUSTER_DIR/$(rabbit_cluster_node "$n")/log"
  return 1
}

# Starts the three nodes (side by side), joins nodes 2 and 3 to node 1 unless they are members
# already (so it is idempotent, and a cluster whose data was kept simply starts again), then sets
# up the broker user as rabbit_start does on the single node.
rabbit_cluster_start() {
  rabbit_install
  load_secrets
  _rabbit_cluster_cookie
  local n first
  first=$(rabbit_cluster_node 1)
  log "starting a $RABBIT_CLUSTER_SIZE-node RabbitMQ cluster (${RABBIT_CLUSTER_NAME}1..$RABBIT_CLUSTER_SIZE, ports $RABBIT_CLUSTER_PORT..$((RABBIT_CLUSTER_PORT + RABBIT_CLUSTER_SIZE - 1)))"
  for n in $(seq 1 "$RABBIT_CLUSTER_SIZE"); do _rabbit_cluster_boot "$n"; done
  for n in $(seq 1 "$RABBIT_CLUSTER_SIZE"); do _rabbit_cluster_wait "$n" || return 1; done
  for n in $(seq 2 "$RABBIT_CLUSTER_SIZE"); do
    rabbit_cluster_ctl "$n" -q cluster_status --formatter json 2>/dev/null | grep -q "\"$first\"" && continue
    log "joining $(rabbit_cluster_node "$n") to $first"
    rabbit_cluster_ctl "$n" -q stop_app >/dev/null
    if ! rabbit_cluster_ctl "$n" -q join_cluster "$first" >/dev/null 2>&1; then
      # Left over from another cluster (its data kept, node 1's removed): start afresh.
      rabbit_cluster_ctl "$n" -q force_reset >/dev/null
      rabbit_cluster_ctl "$n" -q join_cluster "$first" >/dev/null || { log "join_cluster failed"; return 1; }
    fi
    rabbit_cluster_ctl "$n" -q start_app >/dev/null
  done
  rabbit_cluster_ctl 1 -q await_online_nodes "$RABBIT_CLUSTER_SIZE" --timeout 60 >/dev/null \
    || { log "the cluster's nodes did not all come online"; return 1; }
  # Users are cluster-wide: set on node 1, as on the single node.
  if ! rabbit_cluster_ctl 1 -q list_users 2>/dev/null | grep -q "^$CRM_RABBIT_USER\b"; then
    rabbit_cluster_ctl 1 -q add_user "$CRM_RABBIT_USER" "$CRM_RABBIT_PASSWORD" >/dev/null
    rabbit_cluster_ctl 1 -q set_user_tags "$CRM_RABBIT_USER" administrator >/dev/null
    rabbit_cluster_ctl 1 -q set_permissions -p / "$CRM_RABBIT_USER" '.*' '.*' '.*' >/dev/null
  else
    rabbit_cluster_ctl 1 -q change_password "$CRM_RABBIT_USER" "$CRM_RABBIT_PASSWORD" >/dev/null
  fi
  rabbit_cluster_ctl 1 -q delete_user guest >/dev/null 2>&1 || true
}

# Stops node N only (the others go on serving; its quorum-queue members wait for it). Waits
# until its process has exited.
rabbit_cluster_node_stop() {
  local n=$1 pid pidfile
  pidfile=$RABBIT_CLUSTER_DIR/$(rabbit_cluster_node "$n")/rabbit.pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if rabbit_cluster_node_running "$n"; then
    log "stopping RabbitMQ node $(rabbit_cluster_node "$n")"
    # Bounded: a node that does not stop within a minute is terminated by its PID.
    (_rabbit_cluster_env "$n" && timeout 60 "$RABBIT_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" -q shutdown) \
      >/dev/null 2>&1 || true
  fi
  if [ -n "$pid" ]; then
    local i
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "node $n did not stop: terminating it"
      kill -TERM "$pid" 2>/dev/null
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
  return 0
}

# Starts node N again (after rabbit_cluster_node_stop): it rejoins the cluster by itself.
rabbit_cluster_node_start() {
  _rabbit_cluster_cookie
  _rabbit_cluster_boot "$1"
  _rabbit_cluster_wait "$1"
}

rabbit_cluster_stop() {  # all three, side by side; data kept
  [ -d "$RABBIT_CLUSTER_DIR" ] || return 0
  local n pids=()
  for n in $(seq 1 "$RABBIT_CLUSTER_SIZE"); do rabbit_cluster_node_stop "$n" & pids+=($!); done
  wait "${pids[@]}"
  return 0
}

rabbit_cluster_delete() {  # stops the cluster and removes its data (tests make a fresh one)
  rabbit_cluster_stop
  rm -rf "$RABBIT_CLUSTER_DIR"
}
