#!/usr/bin/python3
"""Helpers for regenerate.sh (Python in-toto 1.3.1 / securesystemslib 0.26).

  tools.py ed25519-pem KEYJSON OUTPREFIX   -> OUTPREFIX.pem (PKCS8) + OUTPREFIX.pem.pub (PKIX)
  tools.py dsse-layout LAYOUT OWNER OUT [rsa|ed25519] -> DSSE envelope of LAYOUT's 'signed' (canonical JSON),
                                              signed by securesystemslib create_signature over DSSE PAE
                                              (RSA-PSS salt 32 / ed25519); sig base64
"""
import sys, json, base64, binascii
from securesystemslib import interface, keys, formats

cmd = sys.argv[1]
if cmd == "ed25519-pem":
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives import serialization as s
    k = json.load(open(sys.argv[2]))
    priv = ed25519.Ed25519PrivateKey.from_private_bytes(binascii.unhexlify(k["keyval"]["private"]))
    open(sys.argv[3] + ".pem", "wb").write(priv.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
    open(sys.argv[3] + ".pem.pub", "wb").write(priv.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
elif cmd == "dsse-layout":
    signed = json.load(open(sys.argv[2]))["signed"]
    if len(sys.argv) > 5 and sys.argv[5] == "ed25519":
        owner = interface.import_ed25519_privatekey_from_file(sys.argv[3])
    else:
        owner = interface.import_rsa_privatekey_from_file(sys.argv[3])
    body = formats.encode_canonical(signed).encode()
    ptype = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(body), body)
    sig = keys.create_signature(owner, pae)
    env = {"payloadType": ptype, "payload": base64.b64encode(body).decode(),
           "signatures": [{"keyid": sig["keyid"], "sig": base64.b64encode(binascii.unhexlify(sig["sig"])).decode()}]}
    json.dump(env, open(sys.argv[4], "w"), indent=2)
