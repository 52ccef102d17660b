package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
)

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:      "keygen",
		Usage:     "generate a key pair: PATH (private, PKCS#8 PEM, mode 0600) and PATH.pub (PKIX PEM)",
		ArgsUsage: "PATH",
		Description: `Writes a new private key to PATH and its public key to PATH.pub, and prints the keyid.
Both files are PEM, readable by in-toto-golang and the Python reference.

Example:
   referee keygen --type ed25519 keys/alice`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Value: "ed25519", Usage: "ed25519, ecdsa (P-256) or rsa (3072 bits)"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite existing files"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("keygen takes one PATH")
			}
			path := c.Args().First()
			s, err := attest.GenerateKey(c.String("type"))
			if err != nil {
				return usageError{err}
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := attest.WriteKeyPair(path, s, c.Bool("force")); err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.App.Writer, s.Key().KeyID)
			return err
		},
	}
}

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "inspect keys",
		Subcommands: []*cli.Command{{
			Name:      "id",
			Usage:     "print the in-toto keyid of a key file (PEM or securesystemslib JSON)",
			ArgsUsage: "KEYFILE...",
			Description: `The keyid is the one in-toto-golang and the Python reference compute for the same file.

Example:
   referee key id keys/alice.pub`,
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return usagef("key id takes one or more key files")
				}
				for _, p := range c.Args().Slice() {
					k, err := attest.LoadPublicKey(p)
					if err != nil {
						return err
					}
					if _, err := fmt.Fprintln(c.App.Writer, k.KeyID); err != nil {
						return err
					}
				}
				return nil
			},
		}},
	}
}
