# shellcheck shell=bash
# rootfs_checks.sh — what the runtime image's file tree must hold (sourced after tests/checks.sh), checked
# on the tree docker/rootfs.sh assembles (tests/test_docker_build.sh) and on the built image, mounted
# (tests/test_container_image.sh).
#
# check_rootfs ROOT REPO UID GID: exactly the binary, the libraries the tree's own loader resolves for it
# (interpreter included), /etc/passwd and /etc/group defining UID with primary GID, and the repository's
# fixtures; no shell, no package manager; /var/lib/nacos-mock owned by UID:GID, 0750; /tmp 1777.
# Sets `libs` (one path a line). Without root (no chroot) the libraries are those the host's ldd
# resolves for the binary, and owners are not checked.
check_rootfs() {
  local root="$1" repo="$2" uid="$3" gid="$4" bin="$1/usr/local/bin/nacos-mock" interp trace expected actual
  if [ "$(id -u)" = 0 ]; then
    # the tree's loader, inside the tree: what the binary will load there and nothing of the host's
    interp="$(readelf -l "$bin" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]$/\1/p')"
    local rc=0
    trace="$("$(command -v chroot)" "$root" "$interp" --list /usr/local/bin/nacos-mock 2>&1)" || rc=$?
    if [ "$rc" = 0 ] && ! grep -q "not found" <<<"$trace"; then
      ok "the tree's own loader ($interp) resolves every library of the binary inside the tree"
    else
      not_ok "the tree's own loader ($interp) cannot resolve the binary's libraries inside the tree:"
      sed 's/^/     /' <<<"$trace"
    fi
  else
    trace="$(ldd "$bin")"
  fi
  libs="$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$trace" | sort -u)"
  expected="$( { echo /usr/local/bin/nacos-mock; echo "$libs"; echo /etc/passwd; echo /etc/group
    (cd "$repo" && find fixtures -type f | sed 's|^|/usr/share/nacos-mock/|'); } | sort)"
  actual="$(cd "$root" && find . -type f -o -type l | sed 's|^\.||' | sort)"
  if [ "$actual" = "$expected" ]; then
    ok "files: exactly the binary, the $(wc -l <<<"$libs") libraries it loads (interpreter included), passwd, group, fixtures"
  else
    not_ok "files differ from what the binary needs (< needed, > present):"
    diff <(echo "$expected") <(echo "$actual") | grep '^[<>]' | sed 's/^/     /'
  fi
  check "no shell, no package manager" test -z "$(find "$root" \( -name sh -o -name bash -o -name dash -o -name busybox \
    -o -name dpkg -o -name apt -o -name apt-get \) -print)"
  check "/etc/passwd defines uid $uid with gid $gid, /etc/group gid $gid" \
    bash -c 'grep -qE "^[^:]+:[^:]*:$2:$3:" "$1/etc/passwd" && grep -qE "^[^:]+:[^:]*:$3:" "$1/etc/group"' _ "$root" "$uid" "$gid"
  check "/tmp: 1777" test "$(stat -c %a "$root/tmp")" = 1777
  if [ "$(id -u)" = 0 ]; then
    check "/var/lib/nacos-mock: $uid:$gid, 0750" test "$(stat -c '%u:%g %a' "$root/var/lib/nacos-mock")" = "$uid:$gid 750"
  else
    check "/var/lib/nacos-mock: 0750 (owner checked as root only)" test "$(stat -c %a "$root/var/lib/nacos-mock")" = 750
  fi
}
