#!/usr/bin/python3
"""Build and sign an in-toto layout with the Python reference (in-toto 1.3.1 API).

usage: /usr/bin/python3 pylayout.py SPEC.json

SPEC.json:
  {"out": "root.layout", "expires": "2035-01-01T00:00:00Z",
   "owner": {"path": "owner", "type": "rsa|ed25519|ecdsa"},          # private key
   "functionaries": {"alice": {"path": "alice.pub", "type": "..."}},  # public keys
   "steps": [{"name": "s", "command": "sh -c 'x'", "functionaries": ["alice"],
              "threshold": 1, "materials": ["RULE", ...], "products": [...]}],
   "inspections": [{"name": "i", "run": "cmd args", "materials": [...], "products": [...]}]}

Prints {"owner": keyid, "functionaries": {name: keyid}} as JSON.
Used by the integration tests (package integration) to make layouts the way
integration/testdata/peers/make_layout.py does, for any number of steps.
"""
import json
import sys

from securesystemslib import interface
from in_toto.models.layout import Inspection, Layout, Step
from in_toto.models.metadata import Metablock

PRIV = {
    "rsa": interface.import_rsa_privatekey_from_file,
    "ed25519": interface.import_ed25519_privatekey_from_file,
    "ecdsa": interface.import_ecdsa_privatekey_from_file,
}
PUB = {
    "rsa": interface.import_rsa_publickey_from_file,
    "ed25519": interface.import_ed25519_publickey_from_file,
    "ecdsa": interface.import_ecdsa_publickey_from_file,
}

spec = json.load(open(sys.argv[1]))
owner = PRIV[spec["owner"]["type"]](spec["owner"]["path"])
layout = Layout()
layout.expires = spec.get("expires", "2035-01-01T00:00:00Z")
layout.readme = "referee integration test"
ids = {}
for name, f in spec.get("functionaries", {}).items():
    key = PUB[f["type"]](f["path"])
    layout.add_functionary_key(key)
    ids[name] = key["keyid"]

steps = []
for s in spec.get("steps", []):
    step = Step(name=s["name"])
    step.pubkeys = [ids[n] for n in s["functionaries"]]
    step.threshold = s.get("threshold", 1)
    if s.get("command"):
        step.set_expected_command_from_string(s["command"])
    for r in s.get("materials", []):
        step.add_material_rule_from_string(r)
    for r in s.get("products", []):
        step.add_product_rule_from_string(r)
    steps.append(step)
layout.steps = steps

inspections = []
for i in spec.get("inspections", []):
    ins = Inspection(name=i["name"])
    ins.set_run_from_string(i["run"])
    for r in i.get("materials", []):
        ins.add_material_rule_from_string(r)
    for r in i.get("products", []):
        ins.add_product_rule_from_string(r)
    inspections.append(ins)
layout.inspect = inspections

layout.validate()
mb = Metablock(signed=layout)
mb.sign(owner)
mb.dump(spec["out"])
print(json.dumps({"owner": owner["keyid"], "functionaries": ids}))
