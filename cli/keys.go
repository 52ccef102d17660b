package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
)

func keygenCommand() *cli.Command {
	out := option.NewOutput(option.TextJSON...)
	var force option.Force
	var keyType string
	return &cli.Command{
		Name:      "keygen",
		Usage:     "generate a key pair: PATH (private, PKCS#8 PEM, mode 0600) and PATH.pub (PKIX PEM)",
		ArgsUsage: "PATH",
		Description: `Writes a new private key to PATH and its public key to PATH.pub, and prints the keyid.
Both files are PEM, readable by in-toto-golang and the Python reference (the Python reference
reads ed25519 keys only in its own JSON format: see referee key export).

Examples:
   referee keygen keys/alice
   referee keygen --type rsa --format json keys/owner`,
		Flags: append(option.Flags(&out, &force),
			&cli.StringFlag{Name: "type", Aliases: []string{"t"}, Value: "ed25519", Usage: "ed25519, ecdsa (P-256) or rsa (3072 bits)", Destination: &keyType}),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one PATH"); err != nil {
				return err
			}
			path := c.Args().First()
			s, err := attest.GenerateKey(keyType)
			if err != nil {
				return option.UsageError{Err: fmt.Errorf("--type: %w", err)}
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := attest.WriteKeyPair(path, s, force.Force); err != nil {
				return err
			}
			k := s.Key()
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), keyJSON{File: path + ".pub", Private: path, KeyID: k.KeyID, KeyType: k.KeyType, Scheme: k.Scheme})
			}
			_, err = fmt.Fprintln(out.Stdout(c), k.KeyID)
			return err
		}, &out, &force),
	}
}

// keyJSON describes a key file in --format json.
type keyJSON struct {
	File    string `json:"file"`
	Private string `json:"private,omitempty"`
	KeyID   string `json:"keyid"`
	// CurrentKeyID is the keyid current in-toto (Python 2.x and later)
	// gives the same key (key id only).
	CurrentKeyID string `json:"currentKeyid,omitempty"`
	KeyType      string `json:"keytype"`
	Scheme       string `json:"scheme"`
}

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "inspect and convert keys: key id, key export",
		Description: `Examples:
   referee key id keys/alice.pub
   referee key export --format securesystemslib keys/alice.pub > alice.pub.json`,
		Subcommands: []*cli.Command{keyIDCommand(), keyExportCommand()},
	}
}

func keyIDCommand() *cli.Command {
	out := option.NewOutput(option.TextJSON...)
	return &cli.Command{
		Name:      "id",
		Usage:     "print the in-toto keyid of key files (PEM or securesystemslib JSON, public or private)",
		ArgsUsage: "KEYFILE...",
		Description: `The keyid is the one in-toto-golang and the Python reference 1.3 compute for the same file.
With one file, the keyid alone; with several, "KEYID  FILE" per line, as sha256sum writes.
--format json also gives currentKeyid, the id current in-toto (Python 2.x and later) computes
for the same key; referee accepts signatures and layouts under either.

Examples:
   referee key id keys/alice.pub
   referee key id --format json keys/*.pub`,
		Flags: option.Flags(&out),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, -1, "one or more KEYFILEs"); err != nil {
				return err
			}
			var keys []keyJSON
			for _, p := range c.Args().Slice() {
				k, err := attest.LoadAnyKey(p)
				if err != nil {
					return err
				}
				keys = append(keys, keyJSON{File: p, KeyID: k.KeyID, CurrentKeyID: k.CurrentID(), KeyType: k.KeyType, Scheme: k.Scheme})
			}
			w := out.Stdout(c)
			if out.JSON() {
				return option.WriteJSON(w, map[string]any{"keys": keys})
			}
			for _, k := range keys {
				line := k.KeyID
				if len(keys) > 1 {
					line += "  " + k.File
				}
				if _, err := fmt.Fprintln(w, line); err != nil {
					return err
				}
			}
			return nil
		}, &out),
	}
}

func keyExportCommand() *cli.Command {
	var force option.Force
	var format, outPath string
	var public bool
	return &cli.Command{
		Name:      "export",
		Usage:     "write a key in another format: PEM, or securesystemslib JSON for the Python reference",
		ArgsUsage: "KEYFILE",
		Description: `Reads a private or public key (PEM or securesystemslib JSON) and writes it in --format:
securesystemslib is the JSON of in-toto-keygen, which in-toto-run and in-toto-verify (the Python
reference) read with --key-types ed25519 (their default, RSA, reads PEM). A private key is
exported private (mode 0600 with --out) unless --public. The keyid does not change.

Examples:
   referee key export --format securesystemslib --public keys/alice > alice.pub.json
   in-toto-verify -l root.layout -k owner.pub.json -t ed25519
   referee key export --format securesystemslib keys/bob --out bob.json
   in-toto-run -n build -k bob.json -t ed25519 -p app.tar -- tar -cf app.tar src`,
		Flags: append(option.Flags(&force),
			&cli.StringFlag{Name: "format", Value: attest.ExportSecuresystemslib, Usage: "pem or securesystemslib", Destination: &format},
			&cli.BoolFlag{Name: "public", Usage: "export only the public key of a private key", Destination: &public},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout", Destination: &outPath},
		),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one KEYFILE"); err != nil {
				return err
			}
			if format != attest.ExportPEM && format != attest.ExportSecuresystemslib {
				return option.Usagef("--format %q: want pem or securesystemslib", format)
			}
			in := c.Args().First()
			var data []byte
			mode := os.FileMode(0o644)
			if s, err := attest.LoadSigner(in); err == nil && !public {
				mode = 0o600
				if data, err = attest.ExportPrivateKey(s, format); err != nil {
					return fmt.Errorf("%s: %w", in, err)
				}
			} else {
				k, err := attest.LoadAnyKey(in)
				if err != nil {
					return err
				}
				if data, err = attest.ExportPublicKey(k, format); err != nil {
					return fmt.Errorf("%s: %w", in, err)
				}
			}
			if outPath == "" {
				if len(data) > 0 && data[len(data)-1] != '\n' {
					data = append(data, '\n')
				}
				_, err := c.App.Writer.Write(data)
				return err
			}
			if err := attest.WriteFileAtomic(outPath, data, mode, force.Force); err != nil {
				return err
			}
			_, err := fmt.Fprintln(c.App.Writer, outPath)
			return err
		}, &force),
	}
}
