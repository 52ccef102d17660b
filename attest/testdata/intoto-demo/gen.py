#!/usr/bin/python3
"""Regenerates the in-toto/demo supply chain in v1.3/ and current/.

v1.3/ is made by Python in-toto 1.3.1 (securesystemslib 0.26) itself: the
demo's layout as its pre-2.0 create_layout.py made it, and the links by
in-toto-run / in-toto-record, verified by its in-toto-verify.

current/ holds what in-toto 2.x/3.0 (securesystemslib 1.x), which the demo
pins, writes for the same chain: the layout's keys as
SSlibKey.from_crypto(...).to_dict() (no keyid_hash_algorithms, PEM with its
final newline), keyids by compute_default_keyid, and DSSE envelopes
(Envelope.from_signable: json.dumps(attr.asdict(...), sort_keys=True))
signed with RSASSA-PSS/SHA-256, salt of the digest's length (CryptoSigner).
in-toto 3.0 cannot be installed here, so this reproduces those rules from
their source; the signed link contents are the v1.3 runs'.

tampered/ is the demo's second act: foo.py changed after update-version and
packaged again (the package links of both generations, and the tarball).

Run: ./gen.py (needs in-toto 1.3.1 on PATH, as Debian's in-toto package).
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import attr
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from in_toto.models.layout import Layout
from in_toto.models.link import Link
from in_toto.models.metadata import Metablock
from securesystemslib.formats import encode_canonical
from securesystemslib.interface import (
    import_rsa_privatekey_from_file,
    import_rsa_publickey_from_file,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def demo_layout(keys, bob, carl):
    # owner_alice/create_layout.py of in-toto/demo, keys aside.
    return {
        "_type": "layout",
        "keys": keys,
        "steps": [{
            "name": "clone",
            "expected_materials": [],
            "expected_products": [["CREATE", "demo-project/foo.py"], ["DISALLOW", "*"]],
            "pubkeys": [bob],
            "expected_command": ["git", "clone", "https://github.com/in-toto/demo-project.git"],
            "threshold": 1,
        }, {
            "name": "update-version",
            "expected_materials": [["MATCH", "demo-project/*", "WITH", "PRODUCTS", "FROM", "clone"], ["DISALLOW", "*"]],
            "expected_products": [["MODIFY", "demo-project/foo.py"], ["DISALLOW", "*"]],
            "pubkeys": [bob],
            "expected_command": [],
            "threshold": 1,
        }, {
            "name": "package",
            "expected_materials": [["MATCH", "demo-project/*", "WITH", "PRODUCTS", "FROM", "update-version"], ["DISALLOW", "*"]],
            "expected_products": [["CREATE", "demo-project.tar.gz"], ["DISALLOW", "*"]],
            "pubkeys": [carl],
            "expected_command": ["tar", "--exclude", ".git", "-zcvf", "demo-project.tar.gz", "demo-project"],
            "threshold": 1,
        }],
        "inspect": [{
            "name": "untar",
            "expected_materials": [
                ["MATCH", "demo-project.tar.gz", "WITH", "PRODUCTS", "FROM", "package"],
                ["ALLOW", ".keep"], ["ALLOW", "alice.pub"], ["ALLOW", "root.layout"],
                ["ALLOW", "*.link"], ["DISALLOW", "*"]],
            "expected_products": [
                ["MATCH", "demo-project/foo.py", "WITH", "PRODUCTS", "FROM", "update-version"],
                ["ALLOW", "demo-project/.git/*"], ["ALLOW", "demo-project.tar.gz"],
                ["ALLOW", ".keep"], ["ALLOW", "alice.pub"], ["ALLOW", "root.layout"],
                ["ALLOW", "*.link"], ["DISALLOW", "*"]],
            "run": ["tar", "xzf", "demo-project.tar.gz"],
        }],
    }


def current_key(pub_path):
    """SSlibKey.from_crypto(load_pem_public_key(...)).to_dict() and keyid."""
    with open(pub_path, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())
    pem = pub.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    key = {"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": pem}}
    keyid = hashlib.sha256(encode_canonical(key).encode("utf-8")).hexdigest()
    return keyid, key


def dsse(payload, priv_path, keyid):
    """A DSSE envelope signed as securesystemslib 1.x's CryptoSigner does."""
    ptype = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)
    with open(priv_path, "rb") as f:
        priv = serialization.load_pem_private_key(f.read(), None)
    sig = priv.sign(pae, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                     salt_length=padding.PSS.DIGEST_LENGTH), hashes.SHA256())
    return {"payload": base64.b64encode(payload).decode(), "payloadType": ptype,
            "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}]}


def run(*args, **kw):
    print("+", " ".join(args), file=sys.stderr)
    subprocess.run(args, check=True, **kw)


def main():
    work = tempfile.mkdtemp()
    try:
        for k in ["alice", "alice.pub", "bob", "bob.pub", "carl", "carl.pub"]:
            shutil.copy(os.path.join(HERE, k), work)
        os.chdir(work)

        # The 1.3 layout, as the demo's create_layout.py did before in-toto 2.0.
        alice = import_rsa_privatekey_from_file("alice")
        bob = import_rsa_publickey_from_file("bob.pub")
        carl = import_rsa_publickey_from_file("carl.pub")
        layout = Layout.read(demo_layout({bob["keyid"]: bob, carl["keyid"]: carl}, bob["keyid"], carl["keyid"]))
        mb = Metablock(signed=layout)
        mb.sign(alice)
        mb.dump("root.layout")

        # The steps; clone stands in for `git clone` (no network here).
        run("in-toto-run", "--step-name", "clone", "--products", "demo-project/foo.py",
            "--key", "bob", "--", "sh", "-c",
            "mkdir demo-project && printf 'VERSION = \"foo-v0\"\\n\\nprint(\"Hello in-toto\")\\n' > demo-project/foo.py")
        run("in-toto-record", "start", "--step-name", "update-version", "--key", "bob",
            "--materials", "demo-project/foo.py")
        with open("demo-project/foo.py", "w") as f:
            f.write('VERSION = "foo-v1"\n\nprint("Hello in-toto")\n')
        run("in-toto-record", "stop", "--step-name", "update-version", "--key", "bob",
            "--products", "demo-project/foo.py")
        run("in-toto-run", "--step-name", "package", "--materials", "demo-project/foo.py",
            "--products", "demo-project.tar.gz", "--key", "carl", "--record-streams",
            "--", "tar", "--exclude", ".git", "-zcvf", "demo-project.tar.gz", "demo-project")

        old = {"clone": bob["keyid"], "update-version": bob["keyid"], "package": carl["keyid"]}
        final = os.path.join(work, "final_product")
        os.mkdir(final)
        for name in ["root.layout", "alice.pub", "demo-project.tar.gz"] + \
                ["%s.%s.link" % (s, i[:8]) for s, i in old.items()]:
            shutil.copy(name, final)
        run("in-toto-verify", "--layout", "root.layout", "--layout-keys", "alice.pub", cwd=final)

        # The current generation of the same chain.
        ids = {p: current_key(p + ".pub") for p in ["alice", "bob", "carl"]}
        bob_id, carl_id = ids["bob"][0], ids["carl"][0]
        cur_keys = {bob_id: dict(ids["bob"][1], keyid=bob_id), carl_id: dict(ids["carl"][1], keyid=carl_id)}
        cur_layout = Layout.read(dict(demo_layout(cur_keys, bob_id, carl_id), expires=layout.expires))
        payload = json.dumps(attr.asdict(cur_layout), sort_keys=True).encode("utf-8")
        current = {"root.layout": dsse(payload, "alice", ids["alice"][0])}
        who = {"clone": ("bob", bob_id), "update-version": ("bob", bob_id), "package": ("carl", carl_id)}
        for step, (signer, keyid) in who.items():
            link = Metablock.load("%s.%s.link" % (step, old[step][:8])).signed
            payload = json.dumps(attr.asdict(link), sort_keys=True).encode("utf-8")
            current["%s.%s.link" % (step, keyid[:8])] = dsse(payload, signer, keyid)

        # The demo's second act: tampering after update-version.
        with open("demo-project/foo.py", "a") as f:
            f.write("something evil\n")
        os.remove("package.%s.link" % carl["keyid"][:8])
        run("in-toto-run", "--step-name", "package", "--materials", "demo-project/foo.py",
            "--products", "demo-project.tar.gz", "--key", "carl", "--record-streams",
            "--", "tar", "--exclude", ".git", "-zcvf", "demo-project.tar.gz", "demo-project")
        tampered_link = "package.%s.link" % carl["keyid"][:8]
        link = Metablock.load(tampered_link).signed
        payload = json.dumps(attr.asdict(link), sort_keys=True).encode("utf-8")
        tampered_current = dsse(payload, "carl", carl_id)

        for d in ["v1.3", "current", "tampered"]:
            shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
            os.mkdir(os.path.join(HERE, d))
        for name in ["root.layout", "demo-project.tar.gz"] + ["%s.%s.link" % (s, i[:8]) for s, i in old.items()]:
            shutil.copy(os.path.join(final, name), os.path.join(HERE, "v1.3"))
        shutil.copy(os.path.join(final, "demo-project.tar.gz"), os.path.join(HERE, "current"))
        for name, env in current.items():
            with open(os.path.join(HERE, "current", name), "w") as f:
                json.dump(env, f, indent=1)
        shutil.copy("demo-project.tar.gz", os.path.join(HERE, "tampered"))
        shutil.copy(tampered_link, os.path.join(HERE, "tampered"))
        with open(os.path.join(HERE, "tampered", "package.%s.link" % carl_id[:8]), "w") as f:
            json.dump(tampered_current, f, indent=1)
        print("bob", bob["keyid"][:8], bob_id[:8], "carl", carl["keyid"][:8], carl_id[:8],
              "alice", alice["keyid"][:8], ids["alice"][0][:8])
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
