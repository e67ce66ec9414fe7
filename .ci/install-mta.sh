#!/usr/bin/env bash
# Installs what test/mta needs on a Debian 12 machine, as root, non-interactively and idempotently:
#   - Postfix (package), swaks, openssl, Cyrus SASL (sasldb auxprop + saslpasswd2) for password auth;
#   - Dovecot (dovecot-core, dovecot-imapd) for the IMAP certificate-login tests (private instances only);
#   - Exim 4 heavy UNPACKED beside Postfix in /opt/mailca-exim (the exim4 and postfix packages conflict),
#     plus Exim's runtime libraries and the Debian-exim system user.
# No system MTA is left listening: our tests run private instances on high ports.
set -euo pipefail

EXIM_ROOT=/opt/mailca-exim
EXIM_BIN="$EXIM_ROOT/usr/sbin/exim4"
CACHE_DIR=/var/cache/mailca-exim-debs
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
  echo "install-mta.sh: must run as root" >&2
  exit 1
fi

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
}

# Preseed debconf so the postfix package install asks nothing and configures no internet site.
if ! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'install ok installed'; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "postfix postfix/mailname string localhost" | debconf-set-selections
fi

# Packages we need. Exim's runtime libraries = the Depends of exim4-daemon-heavy 4.96 (Debian 12),
# checked with ldd on the unpacked binary.
PACKAGES=(
  postfix postfix-cdb swaks msmtp curl openssl ca-certificates
  dovecot-core dovecot-imapd
  libsasl2-2 libsasl2-modules libsasl2-modules-db sasl2-bin
  libcrypt1 libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libldap-2.5-0 libmariadb3
  libnsl2 libpam0g libpcre2-8-0 libperl5.36 libpq5 libspf2-2 libsqlite3-0 perl
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update_once
  # policy-rc.d 101 keeps the package scripts from starting a system Postfix on port 25 (or Dovecot on 143/993).
  policy_rc_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_rc_created=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$policy_rc_created" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# Make sure no system Postfix holds port 25 (the package may have started one on an earlier run).
if postfix status >/dev/null 2>&1; then
  postfix stop >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop postfix >/dev/null 2>&1 || true
  systemctl disable postfix >/dev/null 2>&1 || true
fi

# Nor a system Dovecot on 143/993: the tests run private instances (dovecot -c FILE) on high ports.
if [ -x /usr/sbin/dovecot ] && doveadm -c /etc/dovecot/dovecot.conf stop >/dev/null 2>&1; then
  echo "install-mta.sh: stopped a running system Dovecot"
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop dovecot.service dovecot.socket >/dev/null 2>&1 || true
  systemctl disable dovecot.service dovecot.socket >/dev/null 2>&1 || true
fi

# Exim: download the .debs into a cache and unpack them beside Postfix.
if [ ! -x "$EXIM_BIN" ]; then
  mkdir -p "$CACHE_DIR"
  if ! ls "$CACHE_DIR"/exim4-daemon-heavy_*.deb >/dev/null 2>&1 \
    || ! ls "$CACHE_DIR"/exim4-base_*.deb >/dev/null 2>&1 \
    || ! ls "$CACHE_DIR"/exim4-config_*.deb >/dev/null 2>&1; then
    apt_update_once
    if getent passwd _apt >/dev/null; then chown _apt "$CACHE_DIR"; fi
    (cd "$CACHE_DIR" && apt-get download exim4-daemon-heavy exim4-base exim4-config)
  fi
  mkdir -p "$EXIM_ROOT"
  for deb in "$CACHE_DIR"/exim4-daemon-heavy_*.deb "$CACHE_DIR"/exim4-base_*.deb "$CACHE_DIR"/exim4-config_*.deb; do
    dpkg -x "$deb" "$EXIM_ROOT"
  done
fi

# Exim refuses to run without its compiled-in user; Debian's is Debian-exim.
if ! getent group Debian-exim >/dev/null; then
  groupadd --system Debian-exim
fi
if ! getent passwd Debian-exim >/dev/null; then
  useradd --system --gid Debian-exim --home-dir /var/spool/exim4 --no-create-home \
    --shell /usr/sbin/nologin Debian-exim
fi

# Every shared library the unpacked binary needs must resolve.
if ldd "$EXIM_BIN" | grep -q 'not found'; then
  echo "install-mta.sh: exim is missing libraries:" >&2
  ldd "$EXIM_BIN" | grep 'not found' >&2
  exit 1
fi

"$EXIM_BIN" -bV -C /dev/null 2>/dev/null | head -n 1 || true
echo "postfix: $(command -v postfix) ($(postconf -d -h mail_version 2>/dev/null || echo unknown version))"
echo "swaks: $(command -v swaks)"
echo "saslpasswd2: $(command -v saslpasswd2)"
echo "exim binary: $EXIM_BIN"
echo "dovecot: $(command -v dovecot) ($(dovecot --version 2>/dev/null || echo unknown version))"
