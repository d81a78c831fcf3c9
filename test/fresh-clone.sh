#!/usr/bin/env bash
# The newcomer's check, slow and outside `npm test`: clones the repository (its committed
# HEAD) into a temporary folder and runs the README's test command there with empty Go
# caches, as on a machine that never built the local FerretDB server. Removes it all after.
#   npm run test:fresh                  # this repository
#   bash test/fresh-clone.sh <repo>     # another clone (path or URL)
set -euo pipefail

source_repo="${1:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)}"
work="$(mktemp -d "${TMPDIR:-/tmp}/chat-fresh-XXXXXX")"
cleanup() {
  # Go makes its module cache read-only.
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export GOCACHE="$work/gocache" GOMODCACHE="$work/gomodcache"
mkdir "$GOCACHE" "$GOMODCACHE"
git clone --quiet "$source_repo" "$work/repo"
cd "$work/repo"
echo "== fresh clone of $(git rev-parse --short HEAD) in $work/repo, empty GOCACHE and GOMODCACHE"

start=$SECONDS
npm ci
echo "== npm ci: $((SECONDS - start)) s"
test_start=$SECONDS
status=0
npm test || status=$?
echo "== npm test: $((SECONDS - test_start)) s, exit code $status (total $((SECONDS - start)) s)"
exit "$status"
