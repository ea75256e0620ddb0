# tests/cli/lib.sh - helpers for CLI tests: each check prints "PASS name" or
# "FAIL name" for tests/run. Source it; the tools are on PATH (bin/).
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; shift; [ $# -gt 0 ] && echo "  $*"; }

# ok NAME CMD... : passes when CMD exits 0
ok() { local n=$1; shift; if "$@" >"$T/.out" 2>&1; then pass "$n"; else fail "$n" "exit $? from: $* :: $(tail -c 400 "$T/.out")"; fi; }

# exits NAME CODE CMD... : passes when CMD exits with CODE
exits() {
  local n=$1 want=$2; shift 2
  "$@" >"$T/.out" 2>"$T/.err"; local rc=$?
  if [ "$rc" = "$want" ]; then pass "$n"; else fail "$n" "exit $rc, wanted $want: $* :: $(tail -c 400 "$T/.err")"; fi
}

# same NAME A B : passes when the two strings are equal
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got [$2] wanted [$3]"; fi; }

# has NAME FILE REGEX : passes when FILE has a line matching REGEX
has() { if grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1" "no /$3/ in $2: $(head -c 400 "$2")"; fi; }
