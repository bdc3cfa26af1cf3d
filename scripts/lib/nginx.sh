# Sourced by the benchmark scripts: nginx, configured for static files at
# its best, as the reference the project's servers are measured against.
#
#   . scripts/lib/nginx.sh
#   start_nginx WORK_DIR WWW_ROOT WORKERS
#   curl "http://127.0.0.1:$NGINX_PORT/file"
#
# Installs nginx from Debian's packages if missing. Sets NGINX_PORT and
# NGINX_PID (the master; the caller stops it), and returns once nginx
# answers. Its workers may run as an unprivileged user: WWW_ROOT must be
# world-readable.

start_nginx() {
  local work="$1" root="$2" workers="$3"
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || scripts/install-debian-packages.sh nginx
  local nginx
  nginx="$(command -v nginx || echo /usr/sbin/nginx)"
  NGINX_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  open_file_cache max=1000 inactive=60s;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  types { application/octet-stream bin; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $root;
  }
}
CONF
  "$nginx" -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>"$work/nginx/stderr" &
  NGINX_PID=$!
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nginx did not start" >&2
  cat "$work/nginx/stderr" "$work/nginx/error.log" >&2 2>/dev/null || true
  return 1
}
