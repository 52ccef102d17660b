#!/usr/bin/env bash
# The motivating supply chain of docs/pipelines.md ("Checking what the scan
# found"): clone -> build -> push (bound to the image) -> scan, the scan's
# vulnerability-report.json and sbom.json attached to the image, and an
# inspection "verify-no-critical-vulns" that fails on any CRITICAL entry.
# Written twice: as a native check (referee check --cel, evaluated by
# verification itself) and as a command inspection (a python3 -c one-liner,
# run only with --run-inspections, in a fresh directory of the image's
# attached artifacts). Each is verified from the registry alone, refused with
# a CRITICAL report, promoted when clean, and verified in production.
#
# Explained in docs/pipelines.md. Run from anywhere:
#
#   bash docs/scan-check.sh
#
# REFEREE=/path/to/referee uses that binary (default: `go build` into a temp
# dir). crane is taken from PATH, else ~/go/bin or $(go env GOPATH)/bin;
# python3 from PATH. PIPELINE_KEEP=1 keeps the work directory and prints it.
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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/referee-scan-check.XXXXXX")
pids=()
CHAIN_LOG=
cleanup() {
  local pid
  if [ -n "$CHAIN_LOG" ]; then
    exec 1>&3 2>&4
    cat "$CHAIN_LOG" >&2
    echo "FAILED: a step of the chain failed (its output above)" >&2
  fi
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

# expect STATUS OUTFILE -- COMMAND...: runs COMMAND with stdout and stderr in
# OUTFILE (and shown), fails unless it exits STATUS.
expect() {
  local want=$1 out=$2 rc
  shift 3
  set +e
  "$@" >"$out" 2>&1
  rc=$?
  set -e
  sed 's/^/    /' "$out"
  [ "$rc" -eq "$want" ] || fail "$* exited $rc, want $want"
}
# has OUTFILE REGEXP WHAT: fails unless a line of OUTFILE matches REGEXP.
has() { grep -Eq -- "$2" "$1" || fail "$3: no line matches /$2/"; }

# ---------------------------------------------------------------- tools
stage "tools"
if [ -z "${REFEREE:-}" ]; then
  echo "building referee from $repo"
  (cd "$repo" && go build -o "$WORK/bin/referee" .)
  REFEREE=$WORK/bin/referee
fi
[ -x "$REFEREE" ] || fail "REFEREE=$REFEREE is not an executable"
case $REFEREE in /*) ;; *) REFEREE=$PWD/$REFEREE ;; esac
CRANE=$(command -v crane || true)
if [ -z "$CRANE" ]; then
  for d in "$HOME/go/bin" "$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin"; do
    if [ -x "$d/crane" ]; then CRANE=$d/crane; break; fi
  done
fi
[ -n "$CRANE" ] || fail "crane not found (go install github.com/google/go-containerregistry/cmd/crane@v0.22.1)"
command -v python3 >/dev/null || fail "python3 not found (the command inspection runs python3 -c)"
# The script calls referee by name, and the push step runs crane: both go
# first on PATH. (The native check is evaluated by referee itself.)
mkdir -p "$WORK/bin"
[ "$REFEREE" = "$WORK/bin/referee" ] || ln -s "$REFEREE" "$WORK/bin/referee"
export PATH="$WORK/bin:$(dirname "$CRANE"):$PATH"
echo "referee: $REFEREE ($(referee version 2>/dev/null | head -1))"
echo "crane:   $CRANE ($(crane version 2>/dev/null))"
echo "python3: $(command -v python3) ($(python3 --version 2>&1))"

# ---------------------------------------------------------------- registries
serve() { # NAME -> sets REG_ADDR
  local name=$1 i
  referee registry serve --addr 127.0.0.1:0 >"$WORK/$name.addr" 2>"$WORK/$name.log" &
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

stage "keys"
mkdir -p "$WORK/keys"
for k in owner dev builder scanner promoter; do
  printf '%-9s %s\n' "$k" "$(referee keygen "$WORK/keys/$k")"
done
K=$WORK/keys

# ---------------------------------------------------------------- the scanner's output
# Fixed reports in trivy's JSON shape (trivy image --format json): one clean,
# one with CVE-2024-3094 (CRITICAL). A real scan step runs the scanner here.
stage "the scanner's reports (fixed content)"
mkdir -p "$WORK/scanner"
report() { # CRITICAL? -> the report on stdout
  local critical=$1
  cat <<'JSON'
{
  "SchemaVersion": 2,
  "ArtifactName": "app.tar",
  "ArtifactType": "archive",
  "Results": [
    {
      "Target": "app.tar (debian 12.8)",
      "Class": "os-pkgs",
      "Type": "debian",
      "Vulnerabilities": [
        {"VulnerabilityID": "CVE-2023-45853", "PkgName": "zlib1g", "InstalledVersion": "1:1.2.13.dfsg-1", "Status": "will_not_fix", "Severity": "LOW"},
JSON
  if [ "$critical" = yes ]; then
    echo '        {"VulnerabilityID": "CVE-2024-3094", "PkgName": "liblzma5", "InstalledVersion": "5.6.0-0.2", "FixedVersion": "5.6.1+really5.4.5-1", "Status": "fixed", "Severity": "CRITICAL"},'
  fi
  cat <<'JSON'
        {"VulnerabilityID": "CVE-2024-45338", "PkgName": "golang.org/x/net", "InstalledVersion": "v0.30.0", "FixedVersion": "0.33.0", "Status": "fixed", "Severity": "MEDIUM"}
      ]
    },
    {"Target": "src/config.yaml", "Class": "config", "Type": "yaml"}
  ]
}
JSON
}
report no >"$WORK/scanner/clean.json"
report yes >"$WORK/scanner/critical.json"
cat >"$WORK/scanner/sbom.json" <<'JSON'
{
  "bomFormat": "CycloneDX",
  "specVersion": "1.6",
  "components": [
    {"type": "library", "name": "zlib1g", "version": "1:1.2.13.dfsg-1", "purl": "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1"},
    {"type": "library", "name": "liblzma5", "version": "5.6.0-0.2", "purl": "pkg:deb/debian/liblzma5@5.6.0-0.2"},
    {"type": "library", "name": "golang.org/x/net", "version": "v0.30.0", "purl": "pkg:golang/golang.org/x/net@v0.30.0"}
  ]
}
JSON
grep -c '"Severity"' "$WORK/scanner/clean.json" "$WORK/scanner/critical.json"

# ---------------------------------------------------------------- layouts
# The same chain twice; only the inspection differs. Every artifact attached to
# the image that a verified link records is a material of the inspection: the
# scan attaches both its products, so the rules consume both.
stage "layouts: the native check and the command inspection"
cat >"$WORK/native.yaml" <<'YAML'
expires: 1mo
version: 1
readme: app, cloned, built into app.tar, pushed, scanned; no CRITICAL vulnerability
functionaries:
  dev: keys/dev.pub
  builder: keys/builder.pub
  scanner: keys/scanner.pub
steps:
  - name: clone
    functionaries: [dev]
    expected_products: [CREATE src/*, DISALLOW *]
  - name: build
    functionaries: [builder]
    expected_materials: [MATCH src/* WITH PRODUCTS FROM clone, DISALLOW *]
    expected_products: [CREATE app.tar, DISALLOW *]
  - name: push
    functionaries: [builder]
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
    expected_products: [CREATE referee:image-manifest, DISALLOW *]
  - name: scan
    functionaries: [scanner]
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
    expected_products: [CREATE vulnerability-report.json, CREATE sbom.json, DISALLOW *]
inspections:
  - name: verify-no-critical-vulns
    run: referee check --cel 'input.Results.all(r, !has(r.Vulnerabilities) || r.Vulnerabilities.all(v, v.Severity != "CRITICAL"))' vulnerability-report.json
    expected_materials:
      - MATCH vulnerability-report.json WITH PRODUCTS FROM scan
      - MATCH sbom.json WITH PRODUCTS FROM scan
      - DISALLOW *
YAML
# The command inspection: the same chain, the same rules, but the check is a
# python3 -c one-liner that the verifier runs (exit 1 on a CRITICAL entry).
sed '/^inspections:/,$d' "$WORK/native.yaml" >"$WORK/command.yaml"
cat >>"$WORK/command.yaml" <<'YAML'
inspections:
  - name: verify-no-critical-vulns
    run: python3 -c 'import json, sys; r = json.load(open("vulnerability-report.json")); c = [v["VulnerabilityID"] for x in r["Results"] for v in x.get("Vulnerabilities", []) if v["Severity"] == "CRITICAL"]; sys.exit("CRITICAL " + ", ".join(c) if c else 0)'
    expected_materials:
      - MATCH vulnerability-report.json WITH PRODUCTS FROM scan
      - MATCH sbom.json WITH PRODUCTS FROM scan
      - DISALLOW *
YAML
# The rules as a first draft has them, without sbom.json.
grep -v 'MATCH sbom.json' "$WORK/native.yaml" >"$WORK/draft.yaml"

cd "$WORK"
for l in native command draft; do
  referee layout create --spec "$l.yaml" --key "$K/owner" --out "$l.layout" 2>"$l.create.log"
done

stage "referee layout lint native.yaml: clean"
expect 0 "$WORK/lint-native.txt" -- referee layout lint native.yaml
ok "the native layout has no findings"

stage "referee layout lint command.yaml: the command inspection"
expect 1 "$WORK/lint-command.txt" -- referee layout lint command.yaml
has "$WORK/lint-command.txt" 'command-inspection' "lint of command.yaml"
has "$WORK/lint-command.txt" 'verify-no-critical-vulns' "lint of command.yaml"
ok "lint names the command inspection (exit 1)"

stage "referee layout lint draft.yaml: the SBOM nothing checks"
expect 1 "$WORK/lint-draft.txt" -- referee layout lint draft.yaml
has "$WORK/lint-draft.txt" '^unconsumed-products \(error\): products sbom\.json of step "scan"' "lint of draft.yaml"
ok "lint finds the unchecked sbom.json (exit 1)"

# ---------------------------------------------------------------- the chain
# chain LAYOUT TAG REPORT: runs clone, build, push and scan in a fresh
# directory, pushing $STAGING/LAYOUT/app:TAG; the scan writes REPORT. Sets
# IMAGE and DIGEST.
chain() {
  local layout=$1 tag=$2 rep=$3 ws
  ws=$WORK/ws-$layout-$tag
  IMAGE=$STAGING/$layout/app:$tag
  mkdir -p "$ws" && cd "$ws"
  CHAIN_LOG=$ws/chain.log  # shown if a step fails
  exec 3>&1 4>&2 >"$CHAIN_LOG" 2>&1
  referee run -q --step-name clone --key "$K/dev" -p src -- sh -c '
    mkdir -p src && printf "#!/bin/sh\necho hello from app\n" >src/app.sh && chmod +x src/app.sh
    printf "app %s\n" "$1" >src/VERSION' clone "$layout-$tag"
  referee run -q --step-name build --key "$K/builder" -m src -p app.tar -- tar -cf app.tar src
  referee run -q --step-name push --key "$K/builder" -m app.tar --attach "$IMAGE" --bind-image -- \
    crane append --oci-empty-base -f app.tar -t "$IMAGE" --insecure
  referee run -q --step-name scan --key "$K/scanner" -m app.tar -p vulnerability-report.json -p sbom.json \
    --attach "$IMAGE" --attach-products -- \
    sh -c 'cp "$1" vulnerability-report.json && cp "$2" sbom.json' scan "$WORK/scanner/$rep.json" "$WORK/scanner/sbom.json"
  referee attach -q "$IMAGE" "$WORK/$layout.layout" clone.*.link build.*.link
  DIGEST=$(crane digest --insecure "$IMAGE")
  exec 1>&3 2>&4 3>&- 4>&-
  CHAIN_LOG=
  echo "$IMAGE = $DIGEST ($rep report)"
  cd "$WORK"
}

# ================================================================ 1. native check
stage "native: the chain, clean and critical"
chain native 1.0.0 clean; N_CLEAN=$IMAGE; N_CLEAN_DIGEST=$DIGEST
chain native 1.0.1 critical; N_CRIT=$IMAGE
referee discover "$N_CLEAN" | tee "$WORK/discover-native.txt"
for f in vulnerability-report sbom; do
  has "$WORK/discover-native.txt" "application/vnd\.referee\.artifact\.v1  \(artifact, path $f\.json, sha256:[0-9a-f]{64}, [0-9]+ bytes, step scan\)\$" "discover $N_CLEAN"
done
ok "the scan's report and SBOM are referrers of the image"

stage "native, clean: verify from an empty directory, no flags but the layout key"
E=$(mktemp -d "$WORK/empty.XXXXXX")
(cd "$E" && expect 0 "$WORK/native-clean.txt" -- referee verify "$N_CLEAN" --layout-key "$K/owner.pub")
has "$WORK/native-clean.txt" '^inspection verify-no-critical-vulns: ok$' "verify $N_CLEAN"
has "$WORK/native-clean.txt" '^PASS' "verify $N_CLEAN"
[ -z "$(ls -A "$E")" ] || fail "verify wrote into the empty directory: $(ls -A "$E")"
ok "clean image verified from an empty directory (and it is still empty)"

stage "native, CRITICAL: refused, naming the inspection"
E=$(mktemp -d "$WORK/empty.XXXXXX")
(cd "$E" && expect 1 "$WORK/native-crit.txt" -- referee verify "$N_CRIT" --layout-key "$K/owner.pub")
has "$WORK/native-crit.txt" 'verify-no-critical-vulns.*FAILED' "verify $N_CRIT"
has "$WORK/native-crit.txt" '^FAIL inspection "verify-no-critical-vulns", artifact "vulnerability-report\.json": .*v\.Severity is "CRITICAL"$' "verify $N_CRIT"
ok "image with a CRITICAL entry refused (exit 1)"

stage "the draft rules (no MATCH sbom.json): the attached SBOM is disallowed"
(cd "$E" && expect 1 "$WORK/draft.txt" -- referee verify "$N_CLEAN" --layout "$WORK/draft.layout" --layout-key "$K/owner.pub")
has "$WORK/draft.txt" '^FAIL inspection "verify-no-critical-vulns", rule "DISALLOW \*": material "sbom\.json" is disallowed' "verify with draft.layout"
ok "every attached artifact a verified link records is a material"

stage "native: promote the clean image; the critical one is refused"
pdigest=$(cd "$E" && referee promote "$N_CLEAN" "$PROD/native/app:1.0.0" --layout-key "$K/owner.pub" --key "$K/promoter")
[ "$pdigest" = "$N_CLEAN_DIGEST" ] || fail "promote printed $pdigest, want $N_CLEAN_DIGEST"
ok "promoted $pdigest"
expect 1 "$WORK/native-promote-crit.txt" -- referee promote "$N_CRIT" "$PROD/native/app:1.0.1" --layout-key "$K/owner.pub" --key "$K/promoter"
has "$WORK/native-promote-crit.txt" '^not promoted: nothing was copied' "promote $N_CRIT"
ok "promote refused the critical image (exit 1)"
referee discover "$PROD/native/app@$pdigest" | tee "$WORK/discover-prod-native.txt"
has "$WORK/discover-prod-native.txt" 'vulnerability-report\.json' "discover in production"
has "$WORK/discover-prod-native.txt" 'predicate https://slsa\.dev/verification_summary/v1' "discover in production"
(cd "$E" && expect 0 "$WORK/native-prod-vsa.txt" -- referee verify "$PROD/native/app@$pdigest" --vsa-key "$K/promoter.pub")
ok "production copy verified by the promoter's summary"
(cd "$E" && expect 0 "$WORK/native-prod-full.txt" -- referee verify "$PROD/native/app@$pdigest" --layout-key "$K/owner.pub")
has "$WORK/native-prod-full.txt" '^inspection verify-no-critical-vulns: ok$' "full verify in production"
ok "production copy verifies in full: the report was copied with the evidence"
[ -z "$(ls -A "$E")" ] || fail "verify or promote wrote into the empty directory: $(ls -A "$E")"

# ================================================================ 2. command inspection
stage "command: the chain, clean and critical"
chain command 1.0.0 clean; C_CLEAN=$IMAGE; C_CLEAN_DIGEST=$DIGEST
chain command 1.0.1 critical; C_CRIT=$IMAGE

# The verifiers' working directories hold decoys: a critical report where the
# clean image is checked (A), a clean one where the critical image is (B). The
# inspection must read the attached reports and leave these directories alone.
A=$WORK/verifier-a B=$WORK/verifier-b
mkdir -p "$A" "$B"
cp "$WORK/scanner/critical.json" "$A/vulnerability-report.json"
cp "$WORK/scanner/clean.json" "$B/vulnerability-report.json"
cp "$WORK/scanner/sbom.json" "$A/sbom.json"
cp "$WORK/scanner/sbom.json" "$B/sbom.json"
listing() { # the tree of the verifiers' directories: path, type, size, mode, mtime, sha256
  (cd "$WORK" && find verifier-a verifier-b -printf '%p %y %s %m %T@\n' | sort &&
    find verifier-a verifier-b -type f -exec sha256sum {} + | sort)
}
listing >"$WORK/before.txt"

stage "command, without --run-inspections: refused"
(cd "$A" && expect 1 "$WORK/command-noflag.txt" -- referee verify "$C_CLEAN" --layout-key "$K/owner.pub")
has "$WORK/command-noflag.txt" 'referee runs inspection commands only when asked \(--run-inspections\)$' "verify $C_CLEAN without --run-inspections"
ok "a command inspection needs --run-inspections (exit 1)"

stage "command, clean, --run-inspections (a critical decoy in the working directory)"
(cd "$A" && expect 0 "$WORK/command-clean.txt" -- referee verify "$C_CLEAN" --layout-key "$K/owner.pub" --run-inspections)
has "$WORK/command-clean.txt" '^inspection verify-no-critical-vulns: ok$' "verify $C_CLEAN"
ok "clean image verified; the inspection read the attached report, not the decoy"

stage "command, CRITICAL, --run-inspections (a clean decoy in the working directory)"
(cd "$B" && expect 1 "$WORK/command-crit.txt" -- referee verify "$C_CRIT" --layout-key "$K/owner.pub" --run-inspections)
has "$WORK/command-crit.txt" 'verify-no-critical-vulns.*FAILED' "verify $C_CRIT"
has "$WORK/command-crit.txt" 'exited with 1: CRITICAL CVE-2024-3094$' "verify $C_CRIT"
ok "image with a CRITICAL entry refused (exit 1), the clean decoy notwithstanding"

stage "command: promote --run-inspections"
(cd "$A" && expect 1 "$WORK/command-promote-noflag.txt" -- referee promote "$C_CLEAN" "$PROD/command/app:1.0.0" --layout-key "$K/owner.pub" --key "$K/promoter")
has "$WORK/command-promote-noflag.txt" 'referee runs inspection commands only when asked \(--run-inspections\)$' "promote without --run-inspections"
ok "promote without --run-inspections refused (exit 1)"
pdigest=$(cd "$A" && referee promote "$C_CLEAN" "$PROD/command/app:1.0.0" --layout-key "$K/owner.pub" --key "$K/promoter" --run-inspections)
[ "$pdigest" = "$C_CLEAN_DIGEST" ] || fail "promote printed $pdigest, want $C_CLEAN_DIGEST"
ok "promoted $pdigest"
(cd "$B" && expect 1 "$WORK/command-promote-crit.txt" -- referee promote "$C_CRIT" "$PROD/command/app:1.0.1" --layout-key "$K/owner.pub" --key "$K/promoter" --run-inspections)
has "$WORK/command-promote-crit.txt" '^not promoted: nothing was copied' "promote $C_CRIT"
ok "promote refused the critical image (exit 1)"
(cd "$A" && expect 0 "$WORK/command-prod-vsa.txt" -- referee verify "$PROD/command/app@$pdigest" --vsa-key "$K/promoter.pub")
ok "production copy verified by the promoter's summary"
(cd "$A" && expect 0 "$WORK/command-prod-full.txt" -- referee verify "$PROD/command/app@$pdigest" --layout-key "$K/owner.pub" --run-inspections)
has "$WORK/command-prod-full.txt" '^inspection verify-no-critical-vulns: ok$' "full verify in production"
ok "production copy verifies in full with --run-inspections: the report was copied"

listing >"$WORK/after.txt"
diff "$WORK/before.txt" "$WORK/after.txt" || fail "the verifiers' working directories changed"
ok "the working directories are untouched ($(grep -c . "$WORK/before.txt") lines of listing before, the same after)"

stage "SCAN CHECK OK: every expectation held"
