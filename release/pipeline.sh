#!/usr/bin/env bash
# release/pipeline.sh IMAGE:TAG — referee's release, its supply chain
# recorded with referee and attached to the image it pushes:
#
#   build    (builder) go build the commit's source into dist/referee
#   test     (tester)  go test on that same source, into dist/test-report.txt
#   package  (builder) dist/referee (and the test report it follows) onto an
#                      empty base, pushed to IMAGE:TAG
#                      (release/cmd/referee-image), the link bound to it
#
# then the layout (release/layout.yaml, signed by the owner key) and the
# links are attached to the image, and the image is verified from the
# registry. On success it prints the image's digest reference on stdout.
#
# Environment:
#   KEYS           directory with the private keys owner, builder, tester
#                  (and their .pub) — required; `referee keygen DIR/NAME`
#   REFEREE        the referee that records (default: built from the source)
#   WORK           scratch directory (default: a new temporary one, removed)
#   TEST_PACKAGES  what the test step runs (default: ./...)
#   VERSION        the version stamped into the binary (default: git describe)
#   GOARCH         the image's architecture (default: amd64)
#   CA_BUNDLE      the CA bundle the image carries
#                  (default: /etc/ssl/certs/ca-certificates.crt)
#
# The source is the commit (git archive HEAD), never uncommitted files.
# Registry flags (e.g. --registry-config) go in REFEREE_FLAGS.
set -euo pipefail

fail() { echo "release: $*" >&2; exit 1; }
[ $# -eq 1 ] || fail "usage: release/pipeline.sh IMAGE:TAG"
IMAGE=$1
[ -n "${KEYS:-}" ] || fail "KEYS is not set (a directory with the keys owner, builder and tester)"
KEYS=$(cd "$KEYS" && pwd)
for k in owner builder tester; do
  [ -f "$KEYS/$k" ] && [ -f "$KEYS/$k.pub" ] || fail "KEYS: $KEYS/$k or $KEYS/$k.pub is missing"
done
root=$(cd "$(dirname "$0")/.." && pwd)
git -C "$root" rev-parse --verify -q HEAD >/dev/null || fail "$root is not a git checkout with a commit"

if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
src=$WORK/src links=$WORK/links
rm -rf "$src" "$links" "$WORK/root.layout" "$WORK/image.ref"
mkdir -p "$src/dist" "$links" "$WORK/keys"
git -C "$root" archive --format=tar HEAD | tar -x -C "$src"

commit=$(git -C "$root" rev-parse HEAD)
epoch=$(git -C "$root" log -1 --format=%ct HEAD)
date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
VERSION=${VERSION:-$(git -C "$root" describe --tags --always)}
GOARCH=${GOARCH:-amd64}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
TEST_PACKAGES=${TEST_PACKAGES:-./...}
read -r -a flags <<<"${REFEREE_FLAGS:-}"

if [ -z "${REFEREE:-}" ]; then
  REFEREE=$WORK/bin/referee
  (cd "$src" && go build -trimpath -o "$REFEREE" .)
fi

cd "$src"
# The source tree is the build's materials and the test's; dist/ is what
# the steps make.
record=(--exclude '*.link*' --exclude .git --exclude dist -d "$links")
pkg=github.com/referee-dev/referee/cli
ldflags="-s -w -X $pkg.buildVersion=$VERSION -X $pkg.buildCommit=$commit -X $pkg.buildDate=$date"

echo "release: build $VERSION ($commit)" >&2
"$REFEREE" run -q -n build -k "$KEYS/builder" "${record[@]}" -m . -p dist/referee -- \
  env CGO_ENABLED=0 GOOS=linux GOARCH="$GOARCH" go build -trimpath -ldflags "$ldflags" -o dist/referee .
[ -f dist/referee ] || fail "the build made no dist/referee"

echo "release: test $TEST_PACKAGES" >&2
# referee run records a failing command's exit code and goes on, as
# in-toto-run does: the report says how the tests ended, and the pipeline
# stops on a failure.
"$REFEREE" run -q -n test -k "$KEYS/tester" "${record[@]}" -m . -p dist/test-report.txt -- \
  sh -c 'go test '"$TEST_PACKAGES"' >dist/test-report.txt 2>&1 || { echo "FAIL: go test exited $?" >>dist/test-report.txt; exit 1; }'
if grep -q '^FAIL' dist/test-report.txt; then
  cat dist/test-report.txt >&2
  fail "the tests failed"
fi

echo "release: package $IMAGE" >&2
cp "$CA_BUNDLE" dist/ca-certificates.crt
# Its stdout (the link's referrer digest; the image's reference) goes to
# stderr: this script's stdout is the verified reference alone.
"$REFEREE" run -n package -k "$KEYS/builder" "${record[@]}" "${flags[@]}" \
  -m dist/referee -m dist/test-report.txt -m dist/ca-certificates.crt --attach "$IMAGE" --bind-image -- \
  go run ./release/cmd/referee-image --binary dist/referee --ca-bundle dist/ca-certificates.crt \
    --arch "$GOARCH" --source-date-epoch "$epoch" --digest-file "$WORK/image.ref" \
    --label org.opencontainers.image.source=https://github.com/referee-dev/referee \
    --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.revision="$commit" \
    "$IMAGE" >&2
ref=$(cat "$WORK/image.ref")

echo "release: layout and links onto $ref" >&2
cp release/layout.yaml "$WORK/layout.yaml"
cp "$KEYS/builder.pub" "$KEYS/tester.pub" "$WORK/keys/"
"$REFEREE" layout create --spec "$WORK/layout.yaml" --key "$KEYS/owner" --out "$WORK/root.layout" >/dev/null
"$REFEREE" attach -q "${flags[@]}" "$ref" "$WORK/root.layout" "$links"/build.*.link "$links"/test.*.link

echo "release: verify $ref" >&2
"$REFEREE" verify -q "${flags[@]}" "$ref" --layout-key "$KEYS/owner.pub" || fail "$ref does not verify"
echo "$ref"
