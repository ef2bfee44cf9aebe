#!/usr/bin/env bash
# Builds Hornet's Debian package and checks it, as an operator would use it:
#
#   1. cargo-deb, installed with `cargo install --locked --root` into a cache
#      directory (default target/tools; scripts/peers.sh does the same);
#   2. the release binary, its shell completions (target/release/completions), and
#      the .deb from crates/hornet/Cargo.toml's [package.metadata.deb]
#      (into target/debian/);
#   3. its contents: /usr/bin/hornet, /etc/hornet/hornet.toml (a conffile),
#      the hornet.service unit, the completions;
#   4. as root: `dpkg -i`, the hornet user the postinst makes,
#      `systemd-analyze verify` on the installed unit (where systemd-analyze
#      exists), then the broker started with the unit's ExecStart line as the
#      hornet user (in the state directory StateDirectory= gives, on a free
#      port) and a message through it with mosquitto_pub/mosquitto_sub.
#
# Usage: scripts/deb.sh [--no-install | --keep]
#   --no-install: steps 1-3 only; --keep: leave the package installed (by
#   default step 4 ends with `dpkg --purge hornet`, leaving the machine as
#   it was, unless hornet was installed before).
# Not part of the default test run: it builds a release binary, which takes
# several minutes on a small machine.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools=${HORNET_TOOLS:-$root/target/tools}
install=1
keep=0
case "${1:-}" in
  --no-install) install=0 ;;
  --keep) keep=1 ;;
  "") ;;
  *) echo "usage: scripts/deb.sh [--no-install | --keep]" >&2; exit 2 ;;
esac

say() { echo "deb.sh: $*"; }
fail() { echo "deb.sh: FAILED: $*" >&2; exit 1; }

# 1. cargo-deb
if [ ! -x "$tools/bin/cargo-deb" ]; then
  say "cargo install cargo-deb --locked --root $tools"
  cargo install cargo-deb --locked --root "$tools"
fi

# 2. the binary, the completions, the package
say "cargo build --release -p hornet"
cargo build --release -p hornet
target=${CARGO_TARGET_DIR:-$root/target}
# Beside the binary: cargo-deb finds target/release/ paths in the target dir.
assets=$target/release/completions
mkdir -p "$assets"
"$target/release/hornet" completions bash >"$assets/hornet.bash"
"$target/release/hornet" completions zsh >"$assets/_hornet"
"$target/release/hornet" completions fish >"$assets/hornet.fish"
rm -rf "$root/target/debian"
"$tools/bin/cargo-deb" -p hornet --no-build --strip --output "$root/target/debian/"
deb=$(ls "$root"/target/debian/hornet_*.deb)
say "built $deb"

# 3. what it holds
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/hornet ./etc/hornet/hornet.toml \
  ./usr/share/bash-completion/completions/hornet \
  ./usr/share/zsh/vendor-completions/_hornet \
  ./usr/share/fish/vendor_completions.d/hornet.fish; do
  grep -q " $path\$" <<<"$contents" || fail "$path is not in the package"
done
grep -q "hornet.service\$" <<<"$contents" || fail "hornet.service is not in the package"
dpkg-deb -f "$deb" Package Version Architecture Depends
conffiles=$(dpkg-deb -I "$deb" conffiles)
grep -qx /etc/hornet/hornet.toml <<<"$conffiles" || fail "hornet.toml is not a conffile"
say "contents: ok"
[ "$install" = 1 ] || exit 0

# 4. install and run it
[ "$(id -u)" = 0 ] || fail "installing needs root (or run with --no-install)"
dpkg -s hornet >/dev/null 2>&1 && keep=1
pid=""
log=$(mktemp)
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$log"
  if [ "$keep" = 0 ]; then
    dpkg --purge hornet >/dev/null && say "purged the package again (--keep keeps it)"
  fi
}
trap cleanup EXIT
dpkg -i "$deb"
getent passwd hornet >/dev/null || fail "the postinst made no hornet user"
unit=$(dpkg -L hornet | grep '/hornet.service$' | head -1)
[ -n "$unit" ] || fail "no hornet.service installed"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no "$unit"
  say "systemd-analyze verify $unit: ok"
else
  say "systemd-analyze not found: unit not verified"
fi
/usr/bin/hornet check-config /etc/hornet/hornet.toml >/dev/null
# What systemd would do: the state directory for the hornet user, then
# ExecStart as that user (with -p: port 1883 may be taken on this machine).
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$exec_start" = "/usr/bin/hornet -c /etc/hornet/hornet.toml" ] || fail "ExecStart is $exec_start"
install -d -o hornet -g hornet -m 0750 /var/lib/hornet
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086 # the ExecStart line is split as systemd splits it
(cd /var/lib/hornet && exec setpriv --reuid=hornet --regid=hornet --init-groups $exec_start -p "$port") >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  grep -q "Opening MQTT listener" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "the broker exited"; }
  sleep 0.1
done
grep -q "Opening MQTT listener" "$log" || { cat "$log"; fail "the broker did not start"; }
got=$(mosquitto_sub -h 127.0.0.1 -p "$port" -t deb/check -C 1 -W 10 &
  for _ in $(seq 50); do
    mosquitto_pub -h 127.0.0.1 -p "$port" -t deb/check -m hello -r -q 1 && break
    sleep 0.1
  done
  wait)
[ "$got" = hello ] || { cat "$log"; fail "no message through the installed broker (got '$got')"; }
owner=$(stat -c %U /var/lib/hornet)
[ "$owner" = hornet ] || fail "/var/lib/hornet belongs to $owner"
ps -o user= -p "$pid" | grep -qx hornet || fail "the broker does not run as hornet"
say "installed broker as the hornet user: message through it: ok"
