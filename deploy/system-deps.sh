#!/usr/bin/env bash
# Debian packages the tests and the radio talk to for real: socat (a serial pty pair for Modbus
# RTU), espeak-ng (offline speech), ffmpeg (probing, decoding and relaying audio), alsa-utils
# (aplay, the ALSA output), mosquitto (the MQTT broker, with its command-line clients) and
# prometheus (its promtool checks the /metrics exposition as Prometheus reads it).
# Installed when missing and running as root; otherwise say what is missing (tests that need
# a program fail under CI=true and skip locally when it is absent).
set -euo pipefail
declare -A PROGRAM_OF=([socat]=socat [espeak-ng]=espeak-ng [ffmpeg]=ffprobe [alsa-utils]=aplay
                       [mosquitto]=mosquitto [mosquitto-clients]=mosquitto_pub
                       [systemd]=systemd-analyze [chromium]=chromium
                       [chromium-driver]=chromedriver [prometheus]=promtool)
missing=()
for package in "${!PROGRAM_OF[@]}"; do
  command -v "${PROGRAM_OF[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing Debian packages (install them as root): ${missing[*]}" >&2
fi
