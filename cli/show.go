package cli

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
)

// documentJSON is a layout or link in --format json: the document, where
// it came from, and the keyids its signatures claim (not verified).
type documentJSON struct {
	Source     string   `json:"source"`
	Form       string   `json:"form"`
	Signatures []string `json:"signatures"`
	Document   any      `json:"document"`
}

// shower parses one kind of document and prints it for a person.
type shower[T any] struct {
	kind  string // "layout" or "link"
	parse func([]byte) (T, error)
	text  func(io.Writer, T, *attest.Envelope) error
}

// command is `layout show` or `link show`: ARG is a file or an OCI
// reference to a referrer holding the document; signatures are listed,
// not verified.
func (s shower[T]) command(argName, description string) *cli.Command {
	var remote option.Remote
	out := option.NewOutput(option.TextJSON...)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:        "show",
		Usage:       "print a " + s.kind + " readably (signatures are listed, not verified)",
		ArgsUsage:   argName,
		Description: description,
		Flags:       option.Flags(groups...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one "+argName+" (a file or an OCI reference)"); err != nil {
				return err
			}
			src, env, err := oci.ReadDocument(c.Context, c.Args().First(), s.kind, remote.OCI())
			if err != nil {
				return err
			}
			doc, err := s.parse(env.Payload)
			if err != nil {
				return fmt.Errorf("%s: %w", src, err)
			}
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), documentJSON{Source: src, Form: env.Form.String(), Signatures: env.SignerKeyIDs(), Document: doc})
			}
			return s.text(out.Stdout(c), doc, env)
		}, groups...),
	}
}
