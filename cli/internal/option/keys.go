package option

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/referee-dev/referee/attest"
)

// Signer is --key/-k: the private key(s) that sign what a command writes.
type Signer struct {
	// Usage describes the key in this command; Multiple allows repeating
	// --key; Optional allows none (the command then checks itself).
	Usage    string
	Multiple bool
	Optional bool

	paths   cli.StringSlice
	path    string
	Signers []*attest.Signer
}

func (o *Signer) Flags() []cli.Flag {
	if o.Multiple {
		return []cli.Flag{&cli.StringSliceFlag{Name: "key", Aliases: []string{"k"}, Usage: o.Usage + " (repeat for several)", Destination: &o.paths}}
	}
	return []cli.Flag{&cli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: o.Usage, Destination: &o.path}}
}

// Parse loads the keys, so that a bad key is found before any work.
func (o *Signer) Parse(*cli.Context) error {
	paths := o.paths.Value()
	if o.path != "" {
		paths = []string{o.path}
	}
	if len(paths) == 0 {
		if o.Optional {
			return nil
		}
		return Usagef("--key is required: %s", o.Usage)
	}
	for _, p := range paths {
		s, err := attest.LoadSignerPassword(p, cosignPassword)
		if err != nil {
			return err
		}
		o.Signers = append(o.Signers, s)
	}
	return nil
}

// cosignPassword is the password of an encrypted cosign private key, as
// cosign reads it: COSIGN_PASSWORD when it is set (an empty value is an
// empty password), else a prompt on the terminal. Unlike cosign, referee
// never reads a password from a stdin that is not a terminal: several
// commands read their input there.
func cosignPassword() ([]byte, error) {
	if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
		return []byte(pw), nil
	}
	// cosign.IsTerminal takes /dev/null for a terminal; x/term does not.
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, errors.New("set COSIGN_PASSWORD (an empty value means an empty password); stdin is not a terminal to ask on")
	}
	// cosign's prompt (cosign.GetPassFromTerm), on stderr.
	fmt.Fprint(os.Stderr, "Enter password for private key: ")
	pw, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("reading the password from the terminal: %w", err)
	}
	return pw, nil
}

// One returns the only signer, or nil.
func (o *Signer) One() *attest.Signer {
	if len(o.Signers) == 0 {
		return nil
	}
	return o.Signers[0]
}

// PublicKeys is a repeatable flag of public-key files, such as
// --layout-key or --vsa-key.
type PublicKeys struct {
	Name    string
	Aliases []string
	Usage   string

	paths cli.StringSlice
	Keys  []*attest.Key
}

func (o *PublicKeys) Flags() []cli.Flag {
	return []cli.Flag{&cli.StringSliceFlag{Name: o.Name, Aliases: o.Aliases, Usage: o.Usage + " (repeatable)", Destination: &o.paths}}
}

// Parse loads the keys; a private key given here is refused.
func (o *PublicKeys) Parse(*cli.Context) error {
	for _, p := range o.paths.Value() {
		k, err := attest.LoadPublicKey(p)
		if err != nil {
			return err
		}
		o.Keys = append(o.Keys, k)
	}
	return nil
}

// Given reports whether the flag was given at all.
func (o *PublicKeys) Given() bool { return len(o.paths.Value()) > 0 }

// Envelope is --metablock: the form of the signed documents written.
type Envelope struct{ Metablock bool }

func (o *Envelope) Flags() []cli.Flag {
	return []cli.Flag{&cli.BoolFlag{Name: "metablock", Usage: "write the classic in-toto Metablock instead of DSSE (for in-toto-verify, the Python reference, which reads only Metablock)", Destination: &o.Metablock}}
}
func (o *Envelope) Parse(*cli.Context) error { return nil }

// Form returns the envelope form asked for.
func (o *Envelope) Form() attest.Form {
	if o.Metablock {
		return attest.FormMetablock
	}
	return attest.FormDSSE
}
