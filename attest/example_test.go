package attest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/referee-dev/referee/attest"
)

// The keyid of a key file is the one both in-toto references compute, for
// PEM and securesystemslib JSON files alike.
func ExampleLoadPublicKey() {
	for _, f := range []string{"python-ed25519/owner.pub", "python-ed25519/owner.pem.pub"} {
		k, err := attest.LoadPublicKey(filepath.Join(peers, f))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(k.KeyType, k.Scheme, k.KeyID)
	}
	// Output:
	// ed25519 ed25519 471e02c26083d3cd279a80c2f2d70b840a02efccd778740fd8f6a42eba122d41
	// ed25519 ed25519 471e02c26083d3cd279a80c2f2d70b840a02efccd778740fd8f6a42eba122d41
}

func ExampleParsePublicKey() {
	pem := `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAB6yf5YqdM+lAxKGf4mTzRMKjoXbK5PAd5OD6RVGIyGQ=
-----END PUBLIC KEY-----`
	k, err := attest.ParsePublicKey([]byte(pem))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(k.KeyID)
	fmt.Println(k.KeyVal.Public)
	// Output:
	// cd357d3f046445b7cf10bdfb57c9fbadc65da725a25b69c44c4ebb97f144968c
	// 07ac9fe58a9d33e940c4a19fe264f344c2a3a176cae4f01de4e0fa455188c864
}

// Sign a link payload as DSSE and check the signature; a change to the
// payload breaks it.
func ExampleSignPayload() {
	priv, err := os.ReadFile(filepath.Join(peers, "python-ed25519/functionary"))
	if err != nil {
		fmt.Println(err)
		return
	}
	signer, err := attest.ParsePrivateKey(priv)
	if err != nil {
		fmt.Println(err)
		return
	}
	payload := []byte(`{"_type":"link","name":"build","command":[],"materials":{},"products":{},"byproducts":{},"environment":{}}`)
	env, err := attest.SignPayload(attest.FormDSSE, payload, signer)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.Form, env.PayloadType, attest.ShortKeyID(env.SignerKeyIDs()[0]))
	fmt.Println("verifies:", env.VerifyKey(signer.Key()) == nil)

	env.Payload = []byte(strings.Replace(string(payload), "build", "b0ild", 1))
	fmt.Println("tampered:", env.VerifyKey(signer.Key()))
	// Output:
	// dsse application/vnd.in-toto+json cd357d3f
	// verifies: true
	// tampered: signature by key cd357d3f046445b7cf10bdfb57c9fbadc65da725a25b69c44c4ebb97f144968c does not verify over this content
}

// A Metablock layout signed by in-toto Python verifies over the canonical
// JSON of its "signed" object.
func ExampleEnvelope_VerifyKey() {
	env, err := attest.ReadEnvelopeFile(filepath.Join(peers, "python-rsa/root.layout"), attest.DefaultMaxFileSize)
	if err != nil {
		fmt.Println(err)
		return
	}
	owner, err := attest.LoadPublicKey(filepath.Join(peers, "python-rsa/owner.pub"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.Form, env.VerifyKey(owner))
	// Output:
	// metablock <nil>
}

func ExampleParseRuleString() {
	for _, s := range []string{
		"match *.py in src with products in repo from checkout",
		"CREATE foo.tar.gz",
		"MACTH * WITH PRODUCTS FROM checkout",
	} {
		r, err := attest.ParseRuleString(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Printf("%q\n", r.Tokens())
	}
	// Output:
	// ["MATCH" "*.py" "IN" "src" "WITH" "PRODUCTS" "IN" "repo" "FROM" "checkout"]
	// ["CREATE" "foo.tar.gz"]
	// error: bad artifact rule "MACTH * WITH PRODUCTS FROM checkout": unknown verb "MACTH" (want MATCH, ALLOW, DISALLOW, REQUIRE, CREATE, DELETE or MODIFY)
}

// Build a layout from a spec; key file paths are resolved by the caller.
func ExampleSpec_Layout() {
	spec, err := attest.ParseSpec([]byte(`
expires: 1y
functionaries:
  dev: functionary.pub
steps:
  - name: write-code
    expected_command: sh -c "echo hello > foo.py"
    functionaries: [dev]
    expected_products: [CREATE foo.py, DISALLOW *]
  - name: package
    functionaries: [dev]
    expected_materials: [MATCH foo.py WITH PRODUCTS FROM write-code, DISALLOW *]
    expected_products: [CREATE foo.tar.gz, ALLOW foo.py, DISALLOW *]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	layout, err := spec.Layout(func(path string) (*attest.Key, error) {
		return attest.LoadPublicKey(filepath.Join(peers, "python-ed25519", path))
	}, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("expires", layout.Expires)
	for _, s := range layout.Steps {
		fmt.Printf("%s by %s: %q\n", s.Name, attest.ShortKeyID(s.PubKeys[0]), s.ExpectedCommand)
	}
	// Output:
	// expires 2027-01-01T00:00:00Z
	// write-code by cd357d3f: ["sh" "-c" "echo hello > foo.py"]
	// package by cd357d3f: []
}

// Run a step: materials are hashed before the command, products after, and
// the command's output and exit code go into the byproducts. A path that
// does not exist is not recorded, as in-toto-run, and is listed for a
// warning.
func ExampleRunStep() {
	dir, err := os.MkdirTemp("", "referee-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	o := attest.RunOptions{
		StepName: "write-code",
		Command:  []string{"sh", "-c", "echo hello > foo.py; echo done"},
		Products: []string{"foo.py", "README"},
		Record:   attest.RecordOptions{Dir: dir},
	}
	if err := o.Check(); err != nil { // before the command runs
		fmt.Println(err)
		return
	}
	link, res, err := attest.RunStep(context.Background(), o)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(link.Products["foo.py"]["sha256"])
	fmt.Printf("%q %v\n", link.Byproducts["stdout"], link.Byproducts["return-value"])
	fmt.Println("not recorded:", res.MissingProducts)
	// Output:
	// 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
	// "done\n" 0
	// not recorded: [README]
}
