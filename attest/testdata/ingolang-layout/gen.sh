#!/bin/bash
# Regenerates this directory with in-toto-golang (its `in-toto` command,
# installed as in-toto-golang) from the keys in ../ingolang: a layout whose
# functionaries are a P-384 key (grace), a P-521 key (frank) and an X.509
# certificate (example.com.write-code), each listed as `in-toto key layout`
# prints it, signed by dan (RSA); and the links of its three steps, made
# by `in-toto run` (write-code and package in DSSE). in-toto-golang's own
# `in-toto verify` must accept the result.
set -euo pipefail
B=${INTOTO_GOLANG:-in-toto-golang}
here=$(cd "$(dirname "$0")" && pwd)
keys=$here/../ingolang
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
k() { $B key layout "$keys/$1" | sed 's/^/    /'; }
id() { $B key id "$keys/$1"; }
cat > layout.json <<JSON
{"signed": {
  "_type": "layout",
  "expires": "2036-01-01T00:00:00Z",
  "readme": "in-toto-golang: P-384, P-521 and certificate functionaries",
  "keys": {
$(k grace.pub),
$(k frank.pub),
$(k example.com.write-code.cert.pem)
  },
  "steps": [
    {"_type": "step", "name": "build", "threshold": 1, "pubkeys": ["$(id grace.pub)"],
     "expected_command": [], "expected_materials": [], "expected_products": [["CREATE", "foo.txt"], ["DISALLOW", "*"]]},
    {"_type": "step", "name": "write-code", "threshold": 1, "pubkeys": ["$(id example.com.write-code.cert.pem)"],
     "expected_command": [], "expected_materials": [["MATCH", "foo.txt", "WITH", "PRODUCTS", "FROM", "build"], ["DISALLOW", "*"]],
     "expected_products": [["MODIFY", "foo.txt"], ["DISALLOW", "*"]]},
    {"_type": "step", "name": "package", "threshold": 1, "pubkeys": ["$(id frank.pub)"],
     "expected_command": [], "expected_materials": [["MATCH", "foo.txt", "WITH", "PRODUCTS", "FROM", "write-code"], ["DISALLOW", "*"]],
     "expected_products": [["ALLOW", "foo.txt"], ["DISALLOW", "*"]]}
  ],
  "inspect": []
}, "signatures": []}
JSON
$B sign -f layout.json -k "$keys/dan" -o root.layout
mkdir out
echo one > foo.txt
$B run -n build -k "$keys/grace" -p foo.txt -d out -x
$B run -n write-code -k "$keys/example.com.write-code.key.pem" -c "$keys/example.com.write-code.cert.pem" -m foo.txt -p foo.txt -d out --use-dsse -- sh -c 'echo two > foo.txt'
$B run -n package -k "$keys/frank" -m foo.txt -p foo.txt -d out -x --use-dsse
cp out/*.link .
$B verify -l root.layout -k "$keys/dan.pub" -d .
rm -f "$here"/*.link "$here"/root.layout
cp root.layout ./*.link "$here"/
