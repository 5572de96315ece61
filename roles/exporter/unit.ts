import { StepError } from '../../src/errors.js';
import { hasControlChars } from '../../src/inventory/schema.js';

/** The exporter's systemd unit: credentials from a 0600 environment file, never the command line. */
export function renderExporterUnit(o: { binary: string; envFile: string; user: string }): string {
  return `# Managed by provision.
[Unit]
Description=Prometheus exporter for Mosquitto (sapcc/mosquitto-exporter)
After=network-online.target mosquitto.service
Wants=network-online.target
Wants=mosquitto.service

[Service]
User=${o.user}
Group=${o.user}
EnvironmentFile=${o.envFile}
ExecStart=${o.binary}
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
`;
}

/** The environment file is line-oriented without escapes: a value with a control character is refused (validation refuses it first). */
export function renderExporterEnv(o: { endpoint: string; bind: string; user: string; password: string; clientId: string }): string {
  for (const [key, value] of Object.entries(o))
    if (hasControlChars(value)) throw new StepError(`refusing to write the exporter's environment file: ${key} contains a control character`);
  return [`BROKER_ENDPOINT=${o.endpoint}`, `BIND_ADDRESS=${o.bind}`, `MQTT_USER=${o.user}`, `MQTT_PASS=${o.password}`, `MQTT_CLIENT_ID=${o.clientId}`, ''].join('\n');
}

export function renderSysvScript(o: { binary: string; envFile: string; user: string }): string {
  return `#!/bin/sh
### BEGIN INIT INFO
# Provides:          mosquitto-exporter
# Required-Start:    $network mosquitto
# Required-Stop:     $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Prometheus exporter for Mosquitto
### END INIT INFO
# Managed by provision (SysV hosts).
PIDFILE=/run/mosquitto-exporter.pid
case "$1" in
  start) set -a; . ${o.envFile}; set +a
         start-stop-daemon --start --background --make-pidfile --pidfile $PIDFILE --chuid ${o.user} --exec ${o.binary} ;;
  stop) start-stop-daemon --stop --pidfile $PIDFILE --retry 5; rm -f $PIDFILE ;;
  restart|force-reload) "$0" stop; "$0" start ;;
  status) start-stop-daemon --status --pidfile $PIDFILE ;;
  *) echo "usage: $0 {start|stop|restart|status}"; exit 2 ;;
esac
`;
}
