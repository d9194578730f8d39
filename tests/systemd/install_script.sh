#!/usr/bin/env bash
# Checks scripts/install.sh with staged installs (--destdir) into a temporary directory:
#   - every file lands where the unit and the config expect it, with the right mode;
#   - the unit's ExecStart follows --prefix;
#   - a second run changes nothing; after an operator edit, the config and a strategy are kept
#     (a tradingd.toml.new appears) and the token is never regenerated;
#   - --dry-run writes nothing; a missing binary fails with "build first";
#   - the installed binary runs (--version).
#
#   bash tests/systemd/install_script.sh BUILT_TRADINGD_BINARY
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
install_sh=$root/scripts/install.sh
binary=${1:-}

fail() {
    echo "install_script: FAIL: $*" >&2
    exit 1
}
[[ -n $binary && -x $binary ]] || fail "usage: install_script.sh PATH_TO_BUILT_TRADINGD"
build_dir=$(cd "$(dirname "$binary")" && pwd)
[[ $(basename "$binary") == tradingd ]] || fail "the binary must be named tradingd: $binary"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage

mode_of() { stat -c %a "$1"; }
expect_mode() {
    [[ -e $1 ]] || fail "not installed: $1"
    local m
    m=$(mode_of "$1")
    [[ $m == "$2" ]] || fail "$1 has mode $m, expected $2"
}
expect_same() { cmp -s "$1" "$2" || fail "$2 differs from $1"; }

# --- first install ---------------------------------------------------------------------------
bash "$install_sh" --build-dir "$build_dir" --destdir "$stage" >"$tmp/run1.log" 2>&1 ||
    { cat "$tmp/run1.log"; fail "first install failed"; }

expect_mode "$stage/usr/local/bin/tradingd" 755
expect_same "$binary" "$stage/usr/local/bin/tradingd"
expect_mode "$stage/etc/systemd/system/tradingd.service" 644
grep -qx 'ExecStart=/usr/local/bin/tradingd --config /etc/tradingd/tradingd.toml' \
    "$stage/etc/systemd/system/tradingd.service" || fail "unit ExecStart does not point at the prefix"
grep -qx 'Type=notify' "$stage/etc/systemd/system/tradingd.service" || fail "installed unit is not the repo's"
expect_mode "$stage/etc/tradingd" 755
expect_mode "$stage/etc/tradingd/tradingd.toml" 644
expect_same "$root/config/prod.toml" "$stage/etc/tradingd/tradingd.toml"
expect_mode "$stage/etc/tradingd/lua-strategies" 755
count=0
for script in "$root"/lua-strategies/*.lua; do
    installed=$stage/etc/tradingd/lua-strategies/$(basename "$script")
    expect_mode "$installed" 644
    expect_same "$script" "$installed"
    count=$((count + 1))
done
((count > 0)) || fail "the repository has no strategies to check"
expect_mode "$stage/var/lib/tradingd" 750
token=$stage/etc/tradingd/http-token
expect_mode "$token" 600
grep -qxE '[0-9a-f]{64}' "$token" || fail "the token is not 64 hex digits"
expect_mode "$stage/usr/local/share/doc/tradingd/operations.md" 644
grep -q "http-token" "$tmp/run1.log" || fail "the install log does not mention the token"
grep -q "$(cat "$token")" "$tmp/run1.log" && fail "the install log prints the token"
[[ ! -e $stage/etc/tradingd/tradingd.toml.new ]] || fail "a .new config on a first install"
echo "install_script: first install OK ($count strategies)"

# The installed binary runs.
version=$("$stage/usr/local/bin/tradingd" --version) || fail "installed tradingd --version failed"
[[ $version == tradingd\ * ]] || fail "unexpected --version output: $version"
echo "install_script: installed binary: $version"

# --- second run, nothing changed: idempotent -------------------------------------------------
token_before=$(cat "$token")
bash "$install_sh" --build-dir "$build_dir" --destdir "$stage" >"$tmp/run2.log" 2>&1 ||
    { cat "$tmp/run2.log"; fail "second install failed"; }
[[ $(cat "$token") == "$token_before" ]] || fail "the second run replaced the token"
[[ ! -e $stage/etc/tradingd/tradingd.toml.new ]] || fail "an unchanged config produced a .new"
grep -q "unchanged: .*/etc/tradingd/tradingd.toml" "$tmp/run2.log" || fail "run 2 did not report the config unchanged"
echo "install_script: second run changed nothing"

# --- third run after operator edits: the config, a strategy and the token are kept ------------
echo '# operator edit' >>"$stage/etc/tradingd/tradingd.toml"
cp "$stage/etc/tradingd/tradingd.toml" "$tmp/edited.toml"
scripts=("$root"/lua-strategies/*.lua)
first_script=$(basename "${scripts[0]}")
echo '-- operator edit' >>"$stage/etc/tradingd/lua-strategies/$first_script"
cp "$stage/etc/tradingd/lua-strategies/$first_script" "$tmp/edited.lua"
chmod 0600 "$token"
bash "$install_sh" --build-dir "$build_dir" --destdir "$stage" >"$tmp/run3.log" 2>&1 ||
    { cat "$tmp/run3.log"; fail "third install failed"; }
expect_same "$tmp/edited.toml" "$stage/etc/tradingd/tradingd.toml"
expect_same "$root/config/prod.toml" "$stage/etc/tradingd/tradingd.toml.new"
grep -q "tradingd.toml.new" "$tmp/run3.log" || fail "run 3 did not say where the new config went"
expect_same "$tmp/edited.lua" "$stage/etc/tradingd/lua-strategies/$first_script"
grep -q "kept your .*$first_script" "$tmp/run3.log" || fail "run 3 did not report the kept strategy"
[[ $(cat "$token") == "$token_before" ]] || fail "the third run replaced the token"
echo "install_script: edited config and strategy kept, .new config written, token unchanged"

# --- a group-readable token is reported -------------------------------------------------------
chmod 0640 "$token"
bash "$install_sh" --build-dir "$build_dir" --destdir "$stage" >"$tmp/run4.log" 2>&1 ||
    { cat "$tmp/run4.log"; fail "fourth install failed"; }
grep -q "WARNING: /etc/tradingd/http-token is readable by group or others" "$tmp/run4.log" ||
    fail "a group-readable token was not reported"
chmod 0600 "$token"

# --- --prefix moves the binary and ExecStart ------------------------------------------------
bash "$install_sh" --build-dir "$build_dir" --destdir "$tmp/opt" --prefix /opt/tradingd \
    >"$tmp/opt.log" 2>&1 || { cat "$tmp/opt.log"; fail "--prefix install failed"; }
expect_mode "$tmp/opt/opt/tradingd/bin/tradingd" 755
grep -qx 'ExecStart=/opt/tradingd/bin/tradingd --config /etc/tradingd/tradingd.toml' \
    "$tmp/opt/etc/systemd/system/tradingd.service" || fail "--prefix did not move ExecStart"
grep -qx 'Documentation=file:/opt/tradingd/share/doc/tradingd/operations.md' \
    "$tmp/opt/etc/systemd/system/tradingd.service" || fail "--prefix did not move Documentation"
echo "install_script: --prefix OK"

# --- --dry-run changes nothing ----------------------------------------------------------------
bash "$install_sh" --build-dir "$build_dir" --destdir "$tmp/dry" --dry-run >"$tmp/dry.log" 2>&1 ||
    { cat "$tmp/dry.log"; fail "--dry-run failed"; }
[[ ! -e $tmp/dry ]] || fail "--dry-run wrote files: $(find "$tmp/dry")"
grep -q "would run: install -m 0755 .*tradingd" "$tmp/dry.log" || fail "--dry-run did not print its actions"
echo "install_script: --dry-run wrote nothing"

# --- a missing binary is a clear error ------------------------------------------------------
mkdir "$tmp/empty-build"
if bash "$install_sh" --build-dir "$tmp/empty-build" --destdir "$tmp/none" >"$tmp/missing.log" 2>&1; then
    fail "install succeeded without a binary"
fi
grep -q "build first: scripts/bootstrap.sh" "$tmp/missing.log" || fail "no 'build first' hint: $(cat "$tmp/missing.log")"
echo "install_script: a missing binary says 'build first'"

echo "install_script: OK"
