#!/usr/bin/python3
"""Print the keyid the Python reference (securesystemslib 0.26) computes for key files.

usage: /usr/bin/python3 keyid.py KIND:PATH...   (one keyid per line, "ERROR: ..." on failure)

KIND:
  rsa-pub, rsa-priv         PEM, interface.import_rsa_{public,private}key_from_file
  ecdsa-pem                 PEM (public or private), keys.import_ecdsakey_from_pem
  ed25519-pem               PEM (PKIX or PKCS#8); the legacy API has no loader, so the raw
                            key is taken with pyca/cryptography and hashed by keys._get_keyid
                            exactly as securesystemslib hashes its own ed25519 keys
  ed25519-json-pub/-priv    securesystemslib JSON, interface.import_ed25519_*_from_file
  ecdsa-json-pub/-priv      securesystemslib JSON, interface.import_ecdsa_*_from_file
"""
import sys

from cryptography.hazmat.primitives import serialization
from securesystemslib import interface, keys


def ed25519_pem(path):
    data = open(path, "rb").read()
    try:
        k = serialization.load_pem_private_key(data, password=None).public_key()
    except (ValueError, TypeError):
        k = serialization.load_pem_public_key(data)
    raw = k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return keys._get_keyid("ed25519", "ed25519", {"public": raw.hex()})


KINDS = {
    "rsa-pub": lambda p: interface.import_rsa_publickey_from_file(p)["keyid"],
    "rsa-priv": lambda p: interface.import_rsa_privatekey_from_file(p)["keyid"],
    "ecdsa-pem": lambda p: keys.import_ecdsakey_from_pem(open(p).read())["keyid"],
    "ed25519-pem": ed25519_pem,
    "ed25519-json-pub": lambda p: interface.import_ed25519_publickey_from_file(p)["keyid"],
    "ed25519-json-priv": lambda p: interface.import_ed25519_privatekey_from_file(p)["keyid"],
    "ecdsa-json-pub": lambda p: interface.import_ecdsa_publickey_from_file(p)["keyid"],
    "ecdsa-json-priv": lambda p: interface.import_ecdsa_privatekey_from_file(p)["keyid"],
}

for arg in sys.argv[1:]:
    kind, path = arg.split(":", 1)
    try:
        print(KINDS[kind](path))
    except Exception as e:  # reported, not fatal: the test decides
        print("ERROR: %s: %s" % (type(e).__name__, str(e).replace("\n", " ")))
