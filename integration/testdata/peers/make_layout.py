#!/usr/bin/python3
"""Create and sign a 2-step in-toto layout with the Python in-toto 1.3.1 API.

usage: make_layout.py OWNER_PRIV FUNC_PUB OUT [rsa|ed25519]
"""
import sys
from securesystemslib import interface
from in_toto.models.layout import Layout, Step
from in_toto.models.metadata import Metablock

owner_priv, func_pub, out, ktype = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
if ktype == "rsa":
    owner = interface.import_rsa_privatekey_from_file(owner_priv)
    func = interface.import_rsa_publickey_from_file(func_pub)
else:
    owner = interface.import_ed25519_privatekey_from_file(owner_priv)
    func = interface.import_ed25519_publickey_from_file(func_pub)

layout = Layout()
layout.expires = "2035-01-01T00:00:00Z"
layout.readme = "referee peer fixture"
layout.add_functionary_key(func)

write = Step(name="write-code")
write.pubkeys = [func["keyid"]]
write.set_expected_command_from_string("sh -c 'echo hello > foo.py'")
write.add_product_rule_from_string("CREATE foo.py")
write.add_product_rule_from_string("DISALLOW *")

pkg = Step(name="package")
pkg.pubkeys = [func["keyid"]]
pkg.set_expected_command_from_string("tar --mtime=@0 --owner=0 --group=0 --numeric-owner -czf foo.tar.gz foo.py")
pkg.add_material_rule_from_string("MATCH foo.py WITH PRODUCTS FROM write-code")
pkg.add_material_rule_from_string("DISALLOW *")
pkg.add_product_rule_from_string("CREATE foo.tar.gz")
pkg.add_product_rule_from_string("ALLOW foo.py")
pkg.add_product_rule_from_string("DISALLOW *")

layout.steps = [write, pkg]

mb = Metablock(signed=layout)
mb.sign(owner)
mb.dump(out)
print("owner keyid", owner["keyid"])
print("functionary keyid", func["keyid"])
