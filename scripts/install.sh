#!/usr/bin/env bash
# Installs tradingd as a systemd service, in the usual places:
#
#   PREFIX/bin/tradingd                       the binary (PREFIX defaults to /usr/local)
#   PREFIX/share/doc/tradingd/                operations.md, configuration.md
#   /etc/systemd/system/tradingd.service      the unit (ExecStart points at PREFIX/bin/tradingd)
#   /etc/tradingd/tradingd.toml               the config, from config/prod.toml
#   /etc/tradingd/lua-strategies/*.lua        the strategies, from lua-strategies/
#   /etc/tradingd/http-token                  bearer token of the HTTP control endpoints (0600)
#   /var/lib/tradingd/                        state: journal, decision log (0750, user tradingd)
#
# and creates the system user and group `tradingd`. Safe to run again (upgrades): the binary,
# the unit and the docs are replaced; an existing config, strategy script or token is never
# overwritten (a changed config is installed next to it as tradingd.toml.new).
#
#   scripts/install.sh [--build-dir DIR] [--prefix DIR] [--destdir DIR] [--dry-run]
#
#   --build-dir DIR  where the built tradingd is (default: build/ of this repository)
#   --prefix DIR     installation prefix of the binary and docs (default /usr/local)
#   --destdir DIR    staged install under DIR (packaging, tests): no user creation, no chown,
#                    no systemctl; paths inside the files stay the final ones
#   --dry-run        print what would be done, change nothing
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$root/build
prefix=/usr/local
destdir=
dry_run=0
service_user=tradingd

die() {
    echo "install: error: $*" >&2
    exit 1
}
say() { echo "install: $*"; }
# did MESSAGE: reports a change that was made (silent with --dry-run: "would run" lines say it).
did() { ((dry_run)) || say "$@"; }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while (($#)); do
    case $1 in
        --build-dir) [[ $# -ge 2 ]] || die "--build-dir needs a directory"; build_dir=$2; shift 2 ;;
        --build-dir=*) build_dir=${1#*=}; shift ;;
        --prefix) [[ $# -ge 2 ]] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#*=}; shift ;;
        --destdir) [[ $# -ge 2 ]] || die "--destdir needs a directory"; destdir=$2; shift 2 ;;
        --destdir=*) destdir=${1#*=}; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

[[ $prefix == /* ]] || die "--prefix must be an absolute path: $prefix"
prefix=${prefix%/}
if [[ -n $destdir ]]; then
    [[ $destdir == /* ]] || destdir=$PWD/$destdir
    destdir=${destdir%/}
    ((dry_run)) || mkdir -p -- "$destdir" || die "cannot create --destdir $destdir"
fi

binary=$build_dir/tradingd
[[ -f $binary && -x $binary ]] ||
    die "$binary not found: build first: scripts/bootstrap.sh (or pass --build-dir DIR)"
for f in systemd/tradingd.service config/prod.toml docs/operations.md docs/configuration.md; do
    [[ -f $root/$f ]] || die "$root/$f is missing (incomplete checkout?)"
done
compgen -G "$root/lua-strategies/*.lua" >/dev/null || die "no strategies in $root/lua-strategies"

staged=0
[[ -n $destdir ]] && staged=1
if ((!staged && !dry_run)) && [[ $(id -u) -ne 0 ]]; then
    die "a system install needs root (sudo scripts/install.sh), or use --destdir DIR for a staged one"
fi

# Final paths (as the running service sees them) and where they are written (under DESTDIR).
bin_path=$prefix/bin/tradingd
doc_dir=$prefix/share/doc/tradingd
unit_path=/etc/systemd/system/tradingd.service
etc_dir=/etc/tradingd
config_path=$etc_dir/tradingd.toml
strategies_dir=$etc_dir/lua-strategies
token_path=$etc_dir/http-token
state_dir=/var/lib/tradingd
d() { echo "$destdir$1"; }

# run CMD...: runs it, or prints it with --dry-run.
run() {
    if ((dry_run)); then
        echo "would run:$(printf ' %q' "$@")"
    else
        "$@"
    fi
}

# install_file SRC DEST MODE: atomic replace (write DEST.tmp, rename), so a running binary or a
# reader never sees a half-written file.
install_file() {
    local src=$1 dest=$2 mode=$3
    if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
        run chmod "$mode" "$dest"
        say "unchanged: $dest"
        return
    fi
    run install -m "$mode" "$src" "$dest.tmp.$$"
    run mv -f "$dest.tmp.$$" "$dest"
    did "installed: $dest"
}

# install_new_only SRC DEST MODE: for files the operator owns once installed.
install_new_only() {
    local src=$1 dest=$2 mode=$3
    if [[ ! -e $dest ]]; then
        run install -m "$mode" "$src" "$dest"
        did "installed: $dest"
    elif cmp -s "$src" "$dest"; then
        say "unchanged: $dest"
    else
        return 1
    fi
}

make_dir() {
    local dir=$1 mode=$2
    [[ -d $dir ]] || did "creating directory $dir"
    run install -d -m "$mode" "$dir"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- user and group ------------------------------------------------------------------------
if ((staged)); then
    say "staged install into $destdir: not creating user $service_user, no chown, no systemctl"
else
    if ! getent group "$service_user" >/dev/null; then
        did "creating system group $service_user"
        run groupadd --system "$service_user"
    fi
    if ! getent passwd "$service_user" >/dev/null; then
        did "creating system user $service_user"
        run useradd --system --gid "$service_user" --no-create-home --home-dir "$state_dir" \
            --shell /usr/sbin/nologin --comment "tradingd trading daemon" "$service_user"
    fi
fi

# chown_service PATH: owned by the service user (not in a staged install: the user may not
# exist on the build machine; packaging sets ownership in its own metadata).
chown_service() {
    ((staged)) || run chown "$service_user:$service_user" "$1"
}

# --- binary and docs -----------------------------------------------------------------------
make_dir "$(d "$prefix/bin")" 0755
install_file "$binary" "$(d "$bin_path")" 0755
make_dir "$(d "$doc_dir")" 0755
install_file "$root/docs/operations.md" "$(d "$doc_dir/operations.md")" 0644
install_file "$root/docs/configuration.md" "$(d "$doc_dir/configuration.md")" 0644

# --- unit: ExecStart and Documentation follow --prefix ----------------------------------------
sed -e "s|^ExecStart=/usr/local/bin/tradingd |ExecStart=$bin_path |" \
    -e "s|^Documentation=file:/usr/local/share/doc/tradingd/|Documentation=file:$doc_dir/|" \
    "$root/systemd/tradingd.service" >"$tmp/tradingd.service"
grep -q "^ExecStart=$bin_path --config $config_path\$" "$tmp/tradingd.service" ||
    die "systemd/tradingd.service: unexpected ExecStart= line (expected /usr/local/bin/tradingd --config $config_path)"
make_dir "$(d /etc/systemd/system)" 0755
install_file "$tmp/tradingd.service" "$(d "$unit_path")" 0644

# --- config and strategies: never overwritten ----------------------------------------------
make_dir "$(d "$etc_dir")" 0755
if ! install_new_only "$root/config/prod.toml" "$(d "$config_path")" 0644; then
    install_file "$root/config/prod.toml" "$(d "$config_path").new" 0644
    say "kept your $config_path; the new default config is $config_path.new (compare with:"
    say "  diff -u $config_path $config_path.new)"
fi
make_dir "$(d "$strategies_dir")" 0755
for script in "$root"/lua-strategies/*.lua; do
    dest=$(d "$strategies_dir/$(basename "$script")")
    # A .new file next to a script would sit in the hot-reload directory: only report the change.
    install_new_only "$script" "$dest" 0644 ||
        say "kept your $strategies_dir/$(basename "$script") (differs from $script; not replaced)"
done

# --- state directory ------------------------------------------------------------------------
make_dir "$(d "$state_dir")" 0750
run chmod 0750 "$(d "$state_dir")"
chown_service "$(d "$state_dir")"

# --- HTTP bearer token: generated once, never overwritten, never printed -----------------------
token=$(d "$token_path")
if [[ -e $token ]]; then
    say "kept existing token $token_path"
    if [[ -n $(find "$token" -maxdepth 0 -perm /077 2>/dev/null) ]]; then
        say "WARNING: $token_path is readable by group or others; the daemon refuses to start"
        say "  until it is not: chmod 0600 $token_path"
    fi
else
    if ((dry_run)); then
        echo "would write: a new random token to $token (mode 0600)"
    else
        # The umask keeps the file private from its creation on (no window with a wider mode).
        if command -v openssl >/dev/null; then
            (umask 077 && openssl rand -hex 32 >"$token.tmp.$$")
        else
            (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$token.tmp.$$" &&
                echo >>"$token.tmp.$$")
        fi
        [[ $(tr -d '\n' <"$token.tmp.$$" | wc -c) -eq 64 ]] || die "token generation failed"
        chmod 0600 "$token.tmp.$$"
        mv -f "$token.tmp.$$" "$token"
        say "generated: $token_path (mode 0600)"
    fi
fi
chown_service "$token"

if ((dry_run)); then
    say "dry run: nothing was changed"
    exit 0
fi
if ((staged)); then
    say "staged install complete in $destdir"
    exit 0
fi

# --- systemd -------------------------------------------------------------------------------
if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    say "ran: systemctl daemon-reload"
else
    say "systemd is not running here: run 'systemctl daemon-reload' on the target system"
fi

cat <<EOT

tradingd is installed. Next steps:
  1. Review the config:        \$EDITOR $config_path   (reference: $doc_dir/configuration.md)
     and check it:             sudo -u $service_user $bin_path check --config $config_path
  2. Load the unit:            systemctl daemon-reload
  3. Start it now and at boot: systemctl enable --now tradingd
     (an upgrade of a running daemon: systemctl restart tradingd)
  4. Status:                   systemctl status tradingd
                               curl -s 127.0.0.1:9180/status | jq   (if [http] is configured)
  5. Logs:                     journalctl -u tradingd -f
Operator's guide: $doc_dir/operations.md
EOT
