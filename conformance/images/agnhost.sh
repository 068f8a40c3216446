#!/bin/sh
# A stand-in for upstream's agnhost test image, in busybox sh, for the subcommands the
# ported conformance tests run: pause, netexec, serve-hostname, test-webserver, liveness,
# porter and entrypoint-tester. Each behaves as upstream's documents it for what the tests
# observe (HTTP paths, bodies, status codes, exit codes, "Paused" in the log). Not
# covered: UDP and SCTP servers (busybox nc cannot listen on them) and TLS; a test needing
# them fails visibly rather than silently.
#
# HTTP is served by `nc -ll -p PORT -e agnhost http MODE...`: nc forks one handler per
# connection with the socket on stdin/stdout.

self=$0
cmd=${1:-pause}
[ $# -gt 0 ] && shift

# flag NAME DEFAULT ARGS...: the value of --NAME=V or --NAME V, else DEFAULT
flag() {
  name=$1 value=$2
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --"$name"=*) value=${1#*=} ;;
      --"$name") [ $# -gt 1 ] && value=$2 && shift ;;
    esac
    shift
  done
  printf '%s' "$value"
}

# -- HTTP -------------------------------------------------------------------------------
read_request() {  # sets METHOD TARGET URLPATH QUERY
  IFS= read -r line || exit 0
  line=$(printf '%s' "$line" | tr -d '\r')
  METHOD=${line%% *}
  rest=${line#* }
  TARGET=${rest%% *}
  while IFS= read -r header; do
    header=$(printf '%s' "$header" | tr -d '\r')
    [ -z "$header" ] && break
  done
  URLPATH=${TARGET%%\?*}
  case "$TARGET" in *\?*) QUERY=${TARGET#*\?} ;; *) QUERY= ;; esac
}

param() {  # the URL-decoded query parameter $1 ('+' is a space, as Go's FormValue has it)
  raw=$(printf '%s\n' "$QUERY" | tr '&' '\n' | sed -n "s/^$1=//p" | head -n 1 | tr '+' ' ')
  [ -n "$raw" ] && httpd -d "$raw"
}

respond() {  # STATUS BODY [EXTRA-HEADER]
  len=$(printf '%s' "$2" | wc -c)
  printf 'HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n' "$1"
  [ -n "$3" ] && printf '%s\r\n' "$3"
  printf 'Content-Length: %s\r\nConnection: close\r\n\r\n%s' "$len" "$2"
}

json_str() {  # a JSON string literal of $1
  printf '%s' "$1" | awk 'BEGIN { RS = "\001"; ORS = "" }
    { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "\\r");
      gsub(/\n/, "\\n"); s = s $0 }
    END { printf "\"%s\"", s }'
}

client_addr() {  # "ip:port" of the peer on stdin, from /proc/net/tcp{,6} (IPv4 peers)
  inode=$(readlink /proc/self/fd/0 | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v inode="$inode" '$10 == inode {
      split($3, a, ":"); h = substr(a[1], length(a[1]) - 7)  # IPv4, or IPv4-mapped IPv6
      ip = ""
      for (i = 7; i >= 1; i -= 2) ip = ip (ip == "" ? "" : ".") hex(substr(h, i, 2))
      printf "%s:%d", ip, hex(a[2]); exit }
    function hex(s,   i, n) { n = 0; s = toupper(s)
      for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789ABCDEF", substr(s, i, 1)) - 1
      return n }'
}

stop_server() {  # make the listening nc (our parent) exit; the server exits with code $1
  echo "$1" > /tmp/.agnhost-exit
  kill "$PPID" 2>/dev/null
}

netexec_request() {
  case "$URLPATH" in
    /clientip) respond "200 OK" "$(client_addr)" ;;
    /echo)
      code=$(param code)
      respond "${code:-200} $( [ -z "$code" ] && echo OK || echo Status)" "$(param msg)" ;;
    /exit)
      code=$(param code)
      respond "200 OK" ""
      stop_server "${code:-0}" ;;
    /shutdown) respond "200 OK" ""; stop_server 0 ;;
    /healthz) respond "200 OK" "" ;;
    /hostname | /hostName) respond "200 OK" "$(hostname)" ;;
    /redirect)
      respond "$(param code | grep . || echo 302) Found" "" "Location: $(param location)" ;;
    /shell)
      c=$(param shellCommand)
      [ -z "$c" ] && c=$(param cmd)
      out=$(sh -c "$c" 2>&1; echo "rc=$?")
      rc=${out##*rc=}
      out=${out%rc=*}
      body="{"
      [ -n "$out" ] && body="$body\"output\":$(json_str "$out")"
      if [ "$rc" != 0 ]; then
        [ "$body" != "{" ] && body="$body,"
        body="$body\"error\":\"exit status $rc\""
      fi
      respond "200 OK" "$body}" ;;
    /dial) dial ;;
    *) respond "200 OK" "NOW: $(date)" ;;
  esac
}

dial() {
  host=$(param host) port=$(param port) request=$(param request)
  tries=$(param tries)
  protocol=$(param protocol)
  [ -z "$request" ] && respond "400 Bad Request" "request parameter not specified. <nil>" && return
  case "$protocol" in
    "" | http | HTTP) ;;
    *) respond "400 Bad Request" "unsupported protocol by this stand-in. $protocol"; return ;;
  esac
  responses="" errors=""
  i=0
  while [ "$i" -lt "${tries:-1}" ]; do
    i=$((i + 1))
    # timeout, not wget -T: busybox 1.35's wget crashes with -T; "rc=" keeps the body's
    # trailing newlines, which $(...) would strip
    got=$(timeout 5 wget -q -O - "http://$host:$port/$request" 2>&1; echo "rc=$?")
    rc=${got##*rc=}
    got=${got%rc=*}
    if [ "$rc" = 0 ]; then
      responses="$responses${responses:+,}$(json_str "$got")"
    else
      errors="$errors${errors:+,}$(json_str "${got%
}")"
    fi
  done
  body="{"
  [ -n "$responses" ] && body="$body\"responses\":[$responses]"
  [ -n "$errors" ] && body="$body${responses:+,}\"errors\":[$errors]"
  respond "200 OK" "$body}"
}

serve_file() {  # test-webserver: the file at the URL path, as a file server of /
  p=$(httpd -d "$URLPATH")
  if [ -f "$p" ]; then
    printf 'HTTP/1.1 200 OK\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
      "$(wc -c < "$p")"
    cat "$p"
  elif [ -d "$p" ]; then
    respond "200 OK" "<pre>
$(ls "$p" | sed 's/.*/<a href="&">&<\/a>/')
</pre>
"
  else
    respond "404 Not Found" "404 page not found
"
  fi
}

handle() {  # one HTTP connection: MODE [ARG]
  read_request
  case "$1" in
    netexec) netexec_request ;;
    hostname) respond "200 OK" "$(hostname)" ;;
    porter) respond "200 OK" "$2" ;;
    webserver) serve_file ;;
    liveness)
      started=$(cat /tmp/.agnhost-started)
      age=$(( $(date +%s) - started ))
      case "$URLPATH" in
        /healthz)
          if [ "$age" -lt 10 ]; then respond "200 OK" "ok"
          else respond "500 Internal Server Error" "error: $age seconds"; fi ;;
        *) respond "404 Not Found" "404 page not found
" ;;
      esac ;;
  esac
}

serve() {  # PORT MODE [ARG]: serve HTTP until told to exit; exit with the code asked for
  port=$1
  shift
  echo "Serving HTTP on port $port"
  nc -ll -p "$port" -e "$self" http "$@"
  code=$(cat /tmp/.agnhost-exit 2>/dev/null || echo 1)
  exit "$code"
}

forever() {
  trap 'exit 0' TERM INT
  while :; do sleep 3600 & wait; done
}

case "$cmd" in
  pause) echo "Paused"; forever ;;
  http) handle "$@" ;;
  netexec)
    port=$(flag http-port 8080 "$@")
    echo "Started HTTP server on port $port"
    serve "$port" netexec ;;
  serve-hostname)
    port=$(flag port 9376 "$@")
    if [ "$(flag tcp false "$@")" = true ]; then
      echo "Serving TCP on port $port"
      exec nc -ll -p "$port" -e hostname
    fi
    serve "$port" hostname ;;
  test-webserver) serve "$(flag port 80 "$@")" webserver ;;
  liveness) date +%s > /tmp/.agnhost-started; serve 8080 liveness ;;
  porter)
    env | sed -n 's/^SERVE_PORT_\([0-9]*\)=\(.*\)$/\1 \2/p' | while read -r port value; do
      nc -ll -p "$port" -e "$self" http porter "$value" &
    done
    forever ;;
  entrypoint-tester) echo "[$self entrypoint-tester${*:+ $*}]" ;;
  *) echo "agnhost stand-in: unknown subcommand $cmd" >&2; exit 1 ;;
esac
