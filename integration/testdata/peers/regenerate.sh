#!/bin/sh
# Regenerates the peer-tool fixtures in this directory.
# Needs: Debian python3-in-toto 1.3.1 (/usr/bin/in-toto-*, /usr/bin/python3)
#        and in-toto-golang v0.11.0 (default ~/go/bin/in-toto-golang, or $INTOTO_GOLANG).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
GO_INTOTO=${INTOTO_GOLANG:-$HOME/go/bin/in-toto-golang}
PKG_CMD="tar --mtime=@0 --owner=0 --group=0 --numeric-owner -czf foo.tar.gz foo.py"

keyid_py() { # keyfile type -> python keyid
  $PY -c 'import sys; from securesystemslib import interface as i
f,t=sys.argv[1],sys.argv[2]
k={"rsa":i.import_rsa_publickey_from_file,"ed25519":i.import_ed25519_publickey_from_file,"ecdsa":i.import_ecdsa_publickey_from_file}[t](f)
print(k["keyid"])' "$1" "$2"
}

# $1=dir $2=keytype(rsa|ed25519) ; python chain
python_chain() {
  D="$HERE/$1"; T=$2
  rm -rf "$D"; mkdir -p "$D/work"
  if [ "$T" = rsa ]; then B="-b 2048"; else B=""; fi
  in-toto-keygen -t "$T" $B "$D/owner"
  in-toto-keygen -t "$T" $B "$D/functionary"
  $PY "$HERE/make_layout.py" "$D/owner" "$D/functionary.pub" "$D/root.layout" "$T" >/dev/null
  cd "$D/work"
  in-toto-run -t "$T" -n write-code -k "$D/functionary" -d "$D" -p foo.py -- sh -c 'echo hello > foo.py'
  in-toto-run -t "$T" -n package -k "$D/functionary" -d "$D" -m foo.py -p foo.tar.gz -- $PKG_CMD
  mv foo.py foo.tar.gz "$D/"; cd "$D"; rmdir work
  {
    echo "owner.pub $(keyid_py owner.pub "$T")"
    echo "functionary.pub $(keyid_py functionary.pub "$T")"
  } > keyids.txt
  in-toto-verify -l root.layout -k owner.pub -t "$T" --link-dir . -v
}

python_chain python-rsa rsa
python_chain python-ed25519 ed25519
# PEM (PKCS8 / PKIX) copies of the ed25519 keys, for in-toto-golang (it only reads PEM)
for k in owner functionary; do $PY "$HERE/tools.py" ed25519-pem "$HERE/python-ed25519/$k" "$HERE/python-ed25519/$k"; done
{
  cd "$HERE/python-ed25519"
  for k in owner functionary; do echo "$k.pem.pub golang=$($GO_INTOTO key id $k.pem.pub)"; done >> keyids.txt
  echo "## in-toto-golang verify -l root.layout -k owner.pem.pub -d ."
  $GO_INTOTO verify -l root.layout -k owner.pem.pub -d . 2>&1 && echo "exit=0" || echo "exit=$?"
  mkdir -p dsse
  $PY "$HERE/tools.py" dsse-layout root.layout owner dsse/root.layout ed25519
  echo "## in-toto-golang verify -l dsse/root.layout -k owner.pem.pub -d .   (DSSE layout, Metablock links)"
  $GO_INTOTO verify -l dsse/root.layout -k owner.pem.pub -d . 2>&1 && echo "exit=0" || echo "exit=$?"
} > "$HERE/python-ed25519/verify-results.txt"

# --- in-toto-golang chain: Python-made RSA PEM keys + Python-signed layout, links by in-toto-golang
D="$HERE/golang"; rm -rf "$D"; mkdir -p "$D/work" "$D/dsse/work"
in-toto-keygen -b 2048 "$D/owner"
in-toto-keygen -b 2048 "$D/functionary"
$PY "$HERE/make_layout.py" "$D/owner" "$D/functionary.pub" "$D/root.layout" rsa >/dev/null
{
  echo "owner.pub python=$(keyid_py "$D/owner.pub" rsa) golang=$($GO_INTOTO key id "$D/owner.pub")"
  echo "functionary.pub python=$(keyid_py "$D/functionary.pub" rsa) golang=$($GO_INTOTO key id "$D/functionary.pub")"
} > "$D/keyids.txt"
cd "$D/work"
$GO_INTOTO run -n write-code -k "$D/functionary" -d "$D" -p foo.py -- sh -c 'echo hello > foo.py'
$GO_INTOTO run -n package -k "$D/functionary" -d "$D" -m foo.py -p foo.tar.gz -- $PKG_CMD
mv foo.py foo.tar.gz "$D/"; cd "$D"; rmdir work
# same steps, DSSE envelopes
cd "$D/dsse/work"
$GO_INTOTO run --use-dsse -n write-code -k "$D/functionary" -d "$D/dsse" -p foo.py -- sh -c 'echo hello > foo.py'
$GO_INTOTO run --use-dsse -n package -k "$D/functionary" -d "$D/dsse" -m foo.py -p foo.tar.gz -- $PKG_CMD
cd "$D/dsse"; rm -rf work
# Layout re-signed by in-toto-golang (Metablock) so that in-toto-golang verify can pass
cp "$D/root.layout" "$D/root.golang-signed.layout"
$PY - "$D/root.golang-signed.layout" <<'PYEOF'
import json,sys
p=sys.argv[1]; d=json.load(open(p)); d["signatures"]=[]; json.dump(d,open(p,"w"),indent=1,sort_keys=True)
PYEOF
$GO_INTOTO sign -f "$D/root.golang-signed.layout" -k "$D/owner" -o "$D/root.golang-signed.layout"
cd "$D"
# Layout as a DSSE envelope (made by hand in Python: PAE + securesystemslib RSA-PSS)
$PY "$HERE/tools.py" dsse-layout "$D/root.layout" "$D/owner" "$D/dsse/root.layout"
# record verification outcomes
{
  for L in root.layout root.golang-signed.layout; do
    for LD in . dsse; do
      echo "## in-toto-golang verify -l $L -k owner.pub -d $LD"
      $GO_INTOTO verify -l "$L" -k owner.pub -d "$LD" 2>&1 && echo "exit=0" || echo "exit=$?"
      echo "## in-toto-verify -l $L -k owner.pub --link-dir $LD"
      in-toto-verify -l "$L" -k owner.pub --link-dir "$LD" 2>&1 && echo "exit=0" || echo "exit=$?"
    done
  done
  echo "## in-toto-golang verify -l dsse/root.layout -k owner.pub -d dsse"
  $GO_INTOTO verify -l dsse/root.layout -k owner.pub -d dsse 2>&1 && echo "exit=0" || echo "exit=$?"
  echo "## in-toto-golang verify -l dsse/root.layout -k owner.pub -d ."
  $GO_INTOTO verify -l dsse/root.layout -k owner.pub -d . 2>&1 && echo "exit=0" || echo "exit=$?"
  echo "## in-toto-verify -l dsse/root.layout -k owner.pub --link-dir ."
  in-toto-verify -l dsse/root.layout -k owner.pub --link-dir . 2>&1 && echo "exit=0" || echo "exit=$?"
} > "$D/verify-results.txt"
cat "$D/verify-results.txt"
chmod 644 "$HERE"/*/owner* "$HERE"/*/functionary*
echo "fixtures regenerated"
