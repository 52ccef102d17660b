package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/check"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/termsafe"
)

// checkJSON is one evaluation in `check --format json`.
type checkJSON struct {
	File   string `json:"file"`
	Pass   bool   `json:"pass"`
	Reason string `json:"reason"`
}

func checkCommand() *cli.Command {
	var (
		out         = option.NewOutput(option.TextJSON...)
		remote      option.Remote
		expr        string
		attestation string
		signedBy    string
		image       string
	)
	required := option.Check(func(c *cli.Context) error {
		if err := requireFlag(c, expr, "cel"); err != nil {
			return err
		}
		switch {
		case attestation == "" && (signedBy != "" || image != ""):
			return option.Usagef("--signed-by and --image go with --attestation PREDICATE_TYPE")
		case attestation != "" && (signedBy == "" || image == ""):
			return option.Usagef("--attestation needs --signed-by KEYFILE (whose signature counts) and --image IMAGE (what it must be about)")
		}
		return nil
	})
	groups := []option.Group{required, &out, &remote}
	return &cli.Command{
		Name:      "check",
		Usage:     "evaluate a CEL expression over JSON evidence (a scan report, an SBOM): exit 0 true, 1 false, 2 error",
		ArgsUsage: "FILE...",
		Description: `The expression (CEL, the language of Kubernetes admission policies) sees the document as
input and must be a bool; every FILE must make it true. The message names the expression and the
value that decided it. In a layout, an inspection whose run is "referee check --cel EXPR FILE"
is evaluated by referee's verification itself, on the artifact a verified link records, with
no command run; the in-toto references run it as a command.

With --attestation TYPE --signed-by KEYFILE --image IMAGE, the expression is evaluated over
the predicate (input; the whole statement is statement) of each in-toto attestation of that
predicate type attached to the image (by referee attest or cosign attest) that KEYFILE signed
and whose subject is the image's digest; there must be one, and every one must pass.

Examples:
   referee check --cel 'input.Results.all(r, !has(r.Vulnerabilities) || r.Vulnerabilities.all(v, v.Severity != "CRITICAL"))' vulnerability-report.json
   referee check --cel 'size(input.packages) > 0' --format json sbom.json
   referee check --attestation https://example.com/scan/v1 --signed-by scanner.pub --image localhost:5000/app:v1 --cel 'input.critical == 0'`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "cel", Usage: "the CEL `EXPRESSION` (a bool over input; required)", Destination: &expr},
			&cli.StringFlag{Name: "attestation", Usage: "check the in-toto attestations of this predicate `TYPE` attached to --image instead of files", Destination: &attestation},
			&cli.StringFlag{Name: "signed-by", Usage: "with --attestation: the public key `FILE` whose signature counts (in a layout: a keyid of its keys)", Destination: &signedBy},
			&cli.StringFlag{Name: "image", Usage: "with --attestation: the `IMAGE` the attestations must be about", Destination: &image},
		}, option.Flags(groups...)...),
		Action: action(func(c *cli.Context) error {
			min := 1
			if attestation != "" {
				min = 0
			}
			if err := requireArgs(c, min, -1, "one or more JSON FILEs"); err != nil {
				return err
			}
			prog, err := check.Compile(expr)
			if err != nil {
				return option.UsageError{Err: err}
			}
			var results []checkJSON
			var failed error
			if attestation != "" {
				if results, err = checkAttestations(c, prog, remote.OCI(), image, attestation, signedBy); err != nil {
					return err
				}
			}
			for _, name := range c.Args().Slice() {
				data, err := readBounded(name, check.MaxDocumentBytes, "checks")
				if err != nil {
					return err
				}
				res, err := check.File(c.Context, prog, name, data)
				if err != nil {
					return err
				}
				results = append(results, checkJSON{File: name, Pass: res.Pass, Reason: res.Reason})
			}
			var failing []string
			for _, r := range results {
				if !r.Pass {
					failing = append(failing, r.File)
				}
			}
			if len(failing) > 0 {
				// The reasons are on stdout; the message says which files.
				unit := "file"
				if attestation != "" {
					unit = "evaluation"
				}
				failed = option.Negative{Err: fmt.Errorf("the check is false for %s (of %s)", termsafe.Quote(strings.Join(failing, ", ")), plural(len(results), unit))}
			}
			w := out.Stdout(c)
			if out.JSON() {
				if err := option.WriteJSON(w, map[string]any{"pass": failed == nil, "checks": results}); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					verdict := "PASS"
					if !r.Pass {
						verdict = "FAIL"
					}
					fmt.Fprintf(w, "%s %s: %s\n", verdict, termsafe.Quote(r.File), termsafe.Quote(r.Reason))
				}
			}
			return out.Done(failed)
		}, groups...),
	}
}

// readBounded reads a file of at most limit bytes; a larger one is
// refused with its name, the limit and what referee does with it.
func readBounded(name string, limit int64, what string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB, the most referee %s", name, limit>>20, what)
	}
	return data, nil
}
