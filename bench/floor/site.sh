#!/bin/bash
# The "floor" of the broker job: the same steps as playbooks/site.yaml's "Mosquitto brokers" play, as one
# plain shell script per host, sent through ONE ssh session per host (`ssh host sh -s < script`), all hosts in
# parallel. Files travel inside the script as base64 heredocs. No idempotency logic beyond what is needed to
# re-run it (a second run redoes everything: apt-get update, all files, all restarts).
#
# Usage: bench/floor/site.sh -s STATE_DIR -b EXPORTER_BINARY -k SSH_KEY -K KNOWN_HOSTS NAME=ADDRESS...
#   STATE_DIR   controller directory for the CA, host keys/certificates, passwords and the per-host scripts
#   e.g. bench/floor/site.sh -s /tmp/floor -b ~/.cache/provision/exporter/bin/mosquitto_exporter-<commit>-amd64 \
#          -k /var/lib/provision-sandbox/bench/id_ed25519 -K /var/lib/provision-sandbox/bench/known_hosts \
#          node1=10.77.1.11 node2=10.77.1.12 node3=10.77.1.13
set -euo pipefail

usage() { sed -n '2,12p' "$0" >&2; exit 2; }
STATE='' BIN='' KEY='' KH=''
while getopts 's:b:k:K:h' o; do
  case $o in
    s) STATE=$OPTARG ;; b) BIN=$OPTARG ;; k) KEY=$OPTARG ;; K) KH=$OPTARG ;; *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ -n "$STATE" ] && [ -f "$BIN" ] && [ -f "$KEY" ] && [ -f "$KH" ] && [ $# -gt 0 ] || usage

umask 077
mkdir -p "$STATE/pki" "$STATE/secrets" "$STATE/scripts"
secret() { # a generated password, kept beside the CA
  local f="$STATE/secrets/$1"
  [ -s "$f" ] || openssl rand -base64 24 | tr -dc 'A-Za-z0-9' | head -c 24 >"$f"
  cat "$f"
}
ADMIN_PW=$(secret mqtt_admin_password)
EXPORTER_PW=$(secret exporter_password)
VERIFY_PW=$(secret verify_password)
HEALTH_PW=$(secret health_password)

# ---- controller PKI: EC P-256 CA (10 years) and a server certificate per host (400 days) -----------------
P=$STATE/pki
if [ ! -s "$P/ca.crt" ]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$P/ca.key" -days 3650 -subj "/CN=provision MQTT CA/O=provision" \
    -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' -out "$P/ca.crt"
fi
for hp in "$@"; do
  h=${hp%%=*} a=${hp#*=}
  [ -s "$P/$h.crt" ] && continue
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/$h.key" 2>/dev/null
  openssl req -new -key "$P/$h.key" -subj "/CN=$h/O=provision" -out "$P/$h.csr"
  printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$h" "$a" >"$P/$h.ext"
  openssl x509 -req -in "$P/$h.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 400 \
    -extfile "$P/$h.ext" -out "$P/$h.crt" 2>/dev/null
done

# ---- the per-host script -------------------------------------------------------------------------------
put() { # put DEST OWNER GROUP MODE < content: the content as a base64 heredoc, installed atomically
  printf 'base64 -d >%s.new <<'"'"'@@EOF'"'"'\n' "$1"
  base64 -w 76
  printf '@@EOF\nchown %s:%s %s.new && chmod %s %s.new && mv -f %s.new %s\n' "$2" "$3" "$1" "$4" "$1" "$1" "$1"
}
ctl() { # one mosquitto_ctrl command as the admin; the admin password (and a new one) on stdin, never in argv
  printf "printf '%%s\\\\n' %s | mosquitto_ctrl -h 127.0.0.1 -p 1883 -u provision-admin dynsec %s >/dev/null 2>&1 || true\n" "$2" "$1"
}

# FLOOR_TRACE=1: each host prints a timestamp at every step boundary to stderr (for finding where time goes).
mark() { [ -z "${FLOOR_TRACE:-}" ] || printf 'echo "@@ $(date +%%s.%%N) %s" >&2\n' "$1"; }

host_script() {
  local h=$1 a=$2
  mark start
  cat <<'EOS'
set -eu
export DEBIAN_FRONTEND=noninteractive
APT='apt-get -q -o DPkg::Lock::Timeout=300'
$APT update </dev/null >/dev/null
EOS
  mark lists-refreshed
  cat <<'EOS'
# "present", not "latest" (like provision and Ansible's apt): naming an installed package to apt-get install
# would upgrade it (openssl, libssl3, ca-certificates on the base image: +15 s).
missing=''
for p in ca-certificates openssl iproute2 procps mosquitto mosquitto-clients nftables; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || missing="$missing $p"
done
[ -z "$missing" ] || $APT install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  --no-install-recommends $missing </dev/null >/dev/null
id exporter >/dev/null 2>&1 || useradd --system --shell /usr/sbin/nologin --home-dir /nonexistent --no-create-home exporter
install -d -o root -g mosquitto -m 0750 /etc/mosquitto/certs
install -d -o mosquitto -g mosquitto -m 0750 /var/lib/mosquitto
install -d -o root -g root -m 0755 /etc/mosquitto-exporter
EOS
  mark packages-done
  put /etc/mosquitto/certs/ca.crt root mosquitto 0644 <"$P/ca.crt"
  put /etc/mosquitto/certs/server.crt root mosquitto 0644 <"$P/$h.crt"
  put /etc/mosquitto/certs/server.key mosquitto mosquitto 0600 <"$P/$h.key"
  # The admin account: mosquitto_ctrl reads its password twice from stdin.
  printf "[ -f /var/lib/mosquitto/dynamic-security.json ] || { (umask 077; printf '%%s\\\\n%%s\\\\n' '%s' '%s' | mosquitto_ctrl dynsec init /var/lib/mosquitto/dynamic-security.json provision-admin >/dev/null) && chown mosquitto:mosquitto /var/lib/mosquitto/dynamic-security.json; }\n" "$ADMIN_PW" "$ADMIN_PW"
  put /etc/mosquitto/mosquitto.conf root mosquitto 0640 <<EOF
# Managed by bench/floor/site.sh
per_listener_settings false
allow_anonymous false
plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
plugin_opt_config_file /var/lib/mosquitto/dynamic-security.json

persistence true
persistence_location /var/lib/mosquitto/
autosave_interval 60
sys_interval 10
max_keepalive 60
max_packet_size 1048576
max_queued_messages 1000
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages true

listener 1883 127.0.0.1

listener 8883
cafile /etc/mosquitto/certs/ca.crt
certfile /etc/mosquitto/certs/server.crt
keyfile /etc/mosquitto/certs/server.key
tls_version tlsv1.2
EOF
  put /etc/nftables.conf root root 0755 <<'EOF'
#!/usr/sbin/nft -f
# Managed by bench/floor/site.sh
flush ruleset

table inet provision {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iif "lo" accept
		meta l4proto icmp accept
		meta l4proto ipv6-icmp accept
		tcp dport 22 accept comment "SSH"
		tcp dport 8883 accept comment "MQTT over TLS"
		tcp dport 9234 accept comment "Prometheus exporter"
	}
}
EOF
  cat <<'EOS'
nft -c -f /etc/nftables.conf
systemctl enable --quiet nftables mosquitto
systemctl restart nftables
systemctl restart mosquitto
i=0; until ss -ltnH 'sport = :8883' | grep -q . && ss -ltnH 'sport = :1883' | grep -q .; do i=$((i+1)); [ $i -lt 150 ] || { echo "mosquitto did not listen" >&2; exit 1; }; sleep 0.1; done
EOS
  mark broker-restarted
  # provision's own roles and clients (an existing one makes mosquitto_ctrl print an error: fine on a re-run).
  ctl 'createRole provision-exporter' "'$ADMIN_PW'"
  ctl "addRoleACL provision-exporter subscribePattern '\$SYS/#' allow" "'$ADMIN_PW'"
  ctl "addRoleACL provision-exporter publishClientReceive '\$SYS/#' allow" "'$ADMIN_PW'"
  ctl 'createRole provision-verify' "'$ADMIN_PW'"
  for t in publishClientSend publishClientReceive subscribePattern; do
    ctl "addRoleACL provision-verify $t 'provision/verify/#' allow" "'$ADMIN_PW'"
  done
  ctl 'createClient provision-verify' "'$VERIFY_PW' '$VERIFY_PW' '$ADMIN_PW'"
  ctl 'addClientRole provision-verify provision-verify' "'$ADMIN_PW'"
  ctl 'createClient provision-exporter' "'$EXPORTER_PW' '$EXPORTER_PW' '$ADMIN_PW'"
  ctl 'addClientRole provision-exporter provision-exporter' "'$ADMIN_PW'"
  ctl 'createClient provision-health' "'$HEALTH_PW' '$HEALTH_PW' '$ADMIN_PW'"
  mark dynsec-done
  put /usr/local/bin/mosquitto_exporter root root 0755 <"$BIN"
  mark binary-written
  put /etc/mosquitto-exporter/env root root 0600 <<EOF
BROKER_ENDPOINT=tcp://127.0.0.1:1883
BIND_ADDRESS=$a:9234
MQTT_USER=provision-exporter
MQTT_PASS=$EXPORTER_PW
MQTT_CLIENT_ID=exporter-$h
EOF
  put /etc/systemd/system/mosquitto-exporter.service root root 0644 <<'EOF'
# Managed by bench/floor/site.sh
[Unit]
Description=Prometheus exporter for Mosquitto (sapcc/mosquitto-exporter)
After=network-online.target mosquitto.service
Wants=network-online.target
Wants=mosquitto.service

[Service]
User=exporter
Group=exporter
EnvironmentFile=/etc/mosquitto-exporter/env
ExecStart=/usr/local/bin/mosquitto_exporter
Restart=always
RestartSec=2s
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectControlGroups=true
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
EOF
  mark exporter-files
  cat <<EOS
systemctl daemon-reload
systemctl enable --quiet mosquitto-exporter
systemctl restart mosquitto-exporter
i=0; until ss -ltnH 'sport = :9234' | grep -q .; do i=\$((i+1)); [ \$i -lt 300 ] || { echo "exporter did not listen" >&2; exit 1; }; sleep 0.1; done
echo "$h: done"
EOS
  mark end
}

# ---- one ssh session per host, all hosts in parallel ----------------------------------------------------
pids=() names=()
for hp in "$@"; do
  h=${hp%%=*} a=${hp#*=}
  host_script "$h" "$a" >"$STATE/scripts/$h.sh"
  ssh -i "$KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o BatchMode=yes \
    "root@$a" sh -s <"$STATE/scripts/$h.sh" &
  pids+=($!) names+=("$h")
done
rc=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then echo "${names[$i]}: FAILED" >&2; rc=1; fi
done
exit $rc
