#!/usr/bin/env bash
# Install communectl on a Debian / Raspberry Pi OS gateway, as root. Idempotent: run it again
# to upgrade. A config that exists is never overwritten.
#
#   sudo deploy/install.sh [--start] [--with-mosquitto] [WHEEL_OR_SOURCE_DIR]
set -euo pipefail

start=no
mosquitto=no
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
for arg in "$@"; do
  case "$arg" in
    --start) start=yes ;;
    --with-mosquitto) mosquitto=yes ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) source_dir="$arg" ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo)" >&2
  exit 1
fi

packages=(python3 python3-venv espeak-ng ffmpeg alsa-utils)
[ "$mosquitto" = yes ] && packages+=(mosquitto mosquitto-clients)
echo "== Debian packages: ${packages[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"

echo "== system user communectl (groups dialout, audio)"
if ! id communectl >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/communectl --shell /usr/sbin/nologin communectl
fi
usermod -a -G dialout,audio communectl

echo "== folders"
install -d -m 0755 /etc/communectl
install -d -m 0750 -o communectl -g communectl /var/lib/communectl
install -d -m 0755 /opt/communectl

echo "== virtual environment /opt/communectl/venv, from $source_dir"
[ -x /opt/communectl/venv/bin/python ] || python3 -m venv /opt/communectl/venv
/opt/communectl/venv/bin/pip install --quiet --upgrade pip
/opt/communectl/venv/bin/pip install --quiet --upgrade "$source_dir"
if [ -d "$source_dir" ] && [ -f "$source_dir/README.md" ]; then
  install -m 0644 "$source_dir/README.md" /opt/communectl/README.md
fi

config=/etc/communectl/config.toml
if [ ! -e "$config" ]; then
  echo "== starting config $config (from deploy/config.example.toml: edit it)"
  install -m 0640 -g communectl "$source_dir/deploy/config.example.toml" "$config"
else
  echo "== keeping the existing $config"
fi
if ! /opt/communectl/venv/bin/communectl check --config "$config"; then
  echo "!! $config needs editing (see above); the service will not start until it passes" >&2
fi

echo "== systemd unit"
install -m 0644 "$source_dir/deploy/communectl.service" /etc/systemd/system/communectl.service
systemctl daemon-reload
systemctl enable communectl >/dev/null
if [ "$start" = yes ]; then
  systemctl restart communectl
  systemctl --no-pager status communectl || true
else
  echo "== installed; start it with: systemctl start communectl   (logs: journalctl -u communectl -f)"
fi
