#!/usr/bin/env bash
# gen-certs.sh: the webhook's serving certificate without cert-manager.
#
# Makes a CA and a certificate for the Service (referee-webhook.referee-system.svc)
# with openssl, writes them to the Secret the Deployment mounts at /tls
# (tls.crt, tls.key, and ca.crt), and patches the CA into the caBundle of the
# webhook configurations that exist. Run it after `kubectl apply -k deploy/`,
# and again before the certificate expires (DAYS): the webhook reloads a
# changed certificate without a restart.
#
#   deploy/gen-certs.sh [DIR]     # DIR keeps the files (default: a temporary directory, removed)
#
# Environment: NAMESPACE (referee-system), SERVICE (referee-webhook),
# SECRET (referee-webhook-tls), WEBHOOK (referee), DAYS (365), KUBECTL
# (kubectl); kubectl's own (KUBECONFIG, ...) as usual.
set -euo pipefail

NAMESPACE=${NAMESPACE:-referee-system}
SERVICE=${SERVICE:-referee-webhook}
SECRET=${SECRET:-referee-webhook-tls}
WEBHOOK=${WEBHOOK:-referee}
DAYS=${DAYS:-365}
KUBECTL=${KUBECTL:-kubectl}

if [ $# -gt 1 ]; then
	echo "usage: $0 [DIR]" >&2
	exit 2
fi
if [ $# -eq 1 ]; then
	dir=$1
	mkdir -p "$dir"
else
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
fi
umask 077

host=$SERVICE.$NAMESPACE.svc
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
	-keyout "$dir/ca.key" -out "$dir/ca.crt" -subj "/CN=referee webhook CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/tls.key" -out "$dir/tls.csr" -subj "/CN=$host" 2>/dev/null
cat >"$dir/tls.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$SERVICE,DNS:$SERVICE.$NAMESPACE,DNS:$host,DNS:$host.cluster.local
EXT
openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
	-days "$DAYS" -extfile "$dir/tls.ext" -out "$dir/tls.crt" 2>/dev/null
openssl verify -CAfile "$dir/ca.crt" "$dir/tls.crt" >/dev/null

"$KUBECTL" create secret generic "$SECRET" --namespace "$NAMESPACE" --type kubernetes.io/tls \
	--from-file "tls.crt=$dir/tls.crt" --from-file "tls.key=$dir/tls.key" --from-file "ca.crt=$dir/ca.crt" \
	--dry-run=client -o yaml |
	"$KUBECTL" apply --server-side --field-manager referee-gen-certs --force-conflicts -f - >/dev/null
echo "secret $NAMESPACE/$SECRET: certificate for $host, valid $DAYS days"

ca=$(base64 -w0 <"$dir/ca.crt")
patched=0
for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
	if ! n=$("$KUBECTL" get "$kind" "$WEBHOOK" -o jsonpath='{range .webhooks[*]}{.name}{"\n"}{end}' 2>/dev/null); then
		continue
	fi
	patch=$(echo "$n" | awk -v ca="$ca" 'NF {printf "%s{\"op\":\"add\",\"path\":\"/webhooks/%d/clientConfig/caBundle\",\"value\":\"%s\"}", (i ? "," : ""), i, ca; i++}')
	"$KUBECTL" patch "$kind" "$WEBHOOK" --type json -p "[$patch]" >/dev/null
	echo "$kind $WEBHOOK: caBundle patched"
	patched=1
done
if [ "$patched" = 0 ]; then
	echo "no webhook configuration $WEBHOOK yet: apply deploy/ and run $0 again" >&2
	exit 1
fi
