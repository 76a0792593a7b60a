#!/usr/bin/env bash
# rootfs.sh — assembles the whole file tree of the runtime image (the final stage of docker/Dockerfile
# copies it to / as it is): no shell, no package manager, nothing the binary does not use.
#
#   /usr/local/bin/nacos-mock                the binary
#   its ELF interpreter and every shared     at the paths the loader finds them here (ldd), so they are
#   library the loader resolves for it       exactly what the binary loads — whatever it links against
#   /etc/passwd, /etc/group                  docker/passwd and docker/group (uid/gid of USER)
#   /usr/share/nacos-mock/fixtures/          the repository's fixtures/
#   /var/lib/nacos-mock                      the data directory (WORKDIR, --db), 0750, owned by nacos-mock
#   /tmp                                     1777, for SQLite's temporary files
#
# Usage: docker/rootfs.sh BINARY DIR     (DIR must not exist or be empty; run as root to set owners)
# Prints one line per file it copied. tests/test_docker_build.sh runs it on the host-built binary and
# checks the tree; tests/test_container_image.sh checks the image it ends up in.
set -euo pipefail
umask 022
repo="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 2 ] || { echo "usage: docker/rootfs.sh BINARY DIR" >&2; exit 2; }
bin="$1" root="$2"
[ -x "$bin" ] || { echo "rootfs.sh: $bin is not an executable" >&2; exit 1; }
mkdir -p "$root"
[ -z "$(ls -A "$root")" ] || { echo "rootfs.sh: $root is not empty" >&2; exit 1; }

put() {   # put SRC DEST-PATH MODE: a regular file (symlinks followed) at DEST-PATH under the root
  install -D -m "$3" "$1" "$root$2"
  echo "$2"
}

put "$bin" /usr/local/bin/nacos-mock 0755
# ldd prints "libx.so.1 => /path/libx.so.1 (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)" for the
# interpreter and "linux-vdso.so.1 (0x…)" for the kernel's (no file); "=> not found" is an error.
ldd_out="$(ldd "$bin")"
if grep -q 'not found' <<<"$ldd_out"; then
  echo "rootfs.sh: the loader cannot resolve every library of $bin:" >&2
  grep 'not found' <<<"$ldd_out" >&2
  exit 1
fi
while read -r path; do
  put "$path" "$path" 0755
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_out" | sort -u)

put "$repo/docker/passwd" /etc/passwd 0644
put "$repo/docker/group" /etc/group 0644
mkdir -p "$root/usr/share/nacos-mock"
cp -R "$repo/fixtures" "$root/usr/share/nacos-mock/fixtures"
chmod -R u=rwX,go=rX "$root/usr/share/nacos-mock"
find "$root/usr/share/nacos-mock/fixtures" -type f | sed "s|^$root||" | sort

# the data directory belongs to the user the image runs as (its line in docker/passwd)
owner="$(awk -F: '$1 == "nacos-mock" { print $3 ":" $4 }' "$repo/docker/passwd")"
[ -n "$owner" ] || { echo "rootfs.sh: docker/passwd has no nacos-mock entry" >&2; exit 1; }
install -d -m 0750 "$root/var/lib/nacos-mock"
install -d -m 1777 "$root/tmp"
if [ "$(id -u)" = 0 ]; then
  chown "$owner" "$root/var/lib/nacos-mock"
else
  echo "rootfs.sh: not root, /var/lib/nacos-mock is not chowned to $owner" >&2
fi
echo "/var/lib/nacos-mock/ ($owner)"
echo "/tmp/"
