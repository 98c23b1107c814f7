# nginx.sh: a private, rootless-style nginx on a free loopback port for the tests (sourced after
# tap.sh). Never a system service: `nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'`.
#
#   nginx_start DIR [EXTRA_HTTP_CONF [EXTRA_SERVER_CONF]]
#       Serves DIR/www on 127.0.0.1:NGINX_PORT; access log DIR/access.log, one line per request:
#       "$request_uri $connection $status $request_method". Exports NGINX_PORT, NGINX_DIR,
#       NGINX_PID, NGINX_URL. Returns nonzero (with diagnostics) when it cannot start.
#   nginx_stop
#   make_files DIR N       creates DIR/f/0 .. DIR/f/N-1 containing "file <i>\n"

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}

nginx_write_conf() { # DIR PORT EXTRA_HTTP EXTRA_SERVER
    _user=
    # A master started as root hands the workers to "nobody" unless told otherwise, and nobody
    # cannot read a 0700 temp dir.
    [ "$(id -u)" = 0 ] && _user="user root;"
    cat >"$1/nginx.conf" <<EOF
$_user
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
    log_format spate '\$request_uri \$connection \$status \$request_method';
    access_log $1/access.log spate;
    client_body_temp_path $1/tmp/client_body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 10000;
    keepalive_timeout 60s;
    sendfile on;
    $3
    server {
        listen 127.0.0.1:$2;
        server_name localhost;
        root $1/www;
        $4
    }
}
EOF
}

nginx_start() {
    NGINX_DIR=$(cd "$1" && pwd)
    mkdir -p "$NGINX_DIR/www" "$NGINX_DIR/tmp"
    if [ ! -x "$NGINX_BIN" ]; then diag "nginx not found at $NGINX_BIN"; return 1; fi
    _try=0
    while [ $_try -lt 5 ]; do
        _try=$((_try + 1))
        NGINX_PORT=$(free_port)
        nginx_write_conf "$NGINX_DIR" "$NGINX_PORT" "${2:-}" "${3:-}"
        : >"$NGINX_DIR/error.log"
        bg_start "$NGINX_BIN" -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" \
            -g 'daemon off;' 2>>"$NGINX_DIR/error.log"
        NGINX_PID=$BG_PID
        _i=0
        while [ $_i -lt 100 ]; do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            if [ -s "$NGINX_DIR/nginx.pid" ] && wait_port "$NGINX_PORT" 0.2; then
                NGINX_URL=http://127.0.0.1:$NGINX_PORT
                export NGINX_PORT NGINX_DIR NGINX_PID NGINX_URL
                return 0
            fi
            _i=$((_i + 1))
            sleep 0.05
        done
        kill_wait "$NGINX_PID"
        grep -q 'Address already in use' "$NGINX_DIR/error.log" && continue
        break
    done
    diag "nginx did not start:" "$(tail -n 5 "$NGINX_DIR/error.log")"
    return 1
}

nginx_stop() {
    [ -n "${NGINX_PID:-}" ] && kill_wait "$NGINX_PID"
    NGINX_PID=
}

make_files() {
    "$PY" - "$1" "$2" <<'EOF'
import os, sys
d = os.path.join(sys.argv[1], "f")
os.makedirs(d, exist_ok=True)
for i in range(int(sys.argv[2])):
    with open(os.path.join(d, str(i)), "w") as f:
        f.write("file %d\n" % i)
EOF
}
