package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/oci"
)

// lintJSON is `layout lint --format json`: what was linted and the
// findings (an empty list when there are none).
type lintJSON struct {
	Source   string           `json:"source"`
	Findings []attest.Finding `json:"findings"`
}

func layoutLintCommand() *cli.Command {
	var (
		remote    option.Remote
		out       = option.NewOutput(option.TextJSON...)
		sublayout bool
	)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "lint",
		Usage:     "find what in a layout lets tampering pass, cannot verify from a registry, or reads differently in the in-toto references",
		ArgsUsage: "LAYOUT|SPEC",
		Description: `LAYOUT is a signed layout (a file, or an OCI reference as layout show takes); SPEC is the
YAML spec layout create reads (key files relative to it). Each finding names its rule, the
step, and a fix; exit status 1 when there is any, 0 when there is none. layout create prints
the same findings as warnings.

Examples:
   referee layout lint layout.yaml
   referee layout lint root.layout --format json
   referee layout lint --sublayout build.layout`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "sublayout", Usage: "the layout is signed as a step's sublayout (its inspections never run; the parent binds the image)", Destination: &sublayout},
		}, option.Flags(groups...)...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one LAYOUT or SPEC"); err != nil {
				return err
			}
			name := c.Args().First()
			o := attest.LintOptions{Now: time.Now(), Sublayout: sublayout}
			findings, err := lintSpecFile(name, o)
			if errors.Is(err, errNotSpec) {
				var src string
				var env *attest.Envelope
				src, env, err = oci.ReadDocument(c.Context, name, "layout", remote.OCI())
				if err != nil {
					return err
				}
				name = src
				l, perr := attest.ParseLayout(env.Payload)
				if perr != nil {
					return fmt.Errorf("%s: %w", src, perr)
				}
				findings = append(attest.Lint(l, o), checkFindings(l)...)
			}
			if err != nil {
				return err
			}
			if out.JSON() {
				if findings == nil {
					findings = []attest.Finding{}
				}
				if err := option.WriteJSON(out.Stdout(c), lintJSON{Source: name, Findings: findings}); err != nil {
					return err
				}
			} else {
				writeFindings(out.Stdout(c), "", findings)
			}
			if len(findings) > 0 {
				return out.Done(option.Negative{Err: fmt.Errorf("%s: %s", termsafe.Quote(name), plural(len(findings), "finding"))})
			}
			return nil
		}, groups...),
	}
}

// errNotSpec says that a file is not a YAML spec (it is a signed layout
// or not a local file at all).
var errNotSpec = errors.New("not a spec")

// lintSpecFile lints name as a YAML spec; errNotSpec when name is not a
// local file, or is JSON (a signed layout).
func lintSpecFile(name string, o attest.LintOptions) ([]attest.Finding, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, errNotSpec
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return nil, errNotSpec
	}
	spec, err := attest.ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	keys := specKeyLoader(name)
	findings, err := attest.LintSpec(spec, keys, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	l, err := spec.Layout(keys, o.Now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return append(findings, checkFindings(l)...), nil
}

// specKeyLoader loads a spec's key files relative to the spec, each file
// once however often it is asked for (a spec is built into a layout and
// linted, which both load its keys).
func specKeyLoader(specPath string) func(string) (*attest.Key, error) {
	base := filepath.Dir(specPath)
	loaded := map[string]*attest.Key{}
	return func(p string) (*attest.Key, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		if k, ok := loaded[p]; ok {
			return k, nil
		}
		k, err := attest.LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		loaded[p] = k
		return k, nil
	}
}

// writeFindings prints one finding per line, each after prefix; their
// texts quote patterns and names from the layout, so terminal controls
// are escaped.
func writeFindings(w io.Writer, prefix string, findings []attest.Finding) {
	for _, f := range findings {
		s := f.String()
		if !termsafe.Safe(s) {
			s = termsafe.Quote(s)
		}
		fmt.Fprintf(w, "%s%s\n", prefix, s)
	}
}

// Rules of the findings the CLI adds to attest.Lint's: they need the
// check package, which attest cannot import.
const (
	lintCheckInvalid    = "check-invalid"
	lintCheckNativeOnly = "check-referee-only"
)

// checkFindings reports native checks (an inspection whose run is
// `referee check …`) that can never pass — a malformed command, a CEL
// expression that does not compile, --signed-by naming no key of the
// layout — and attestation checks, which only referee's verification can
// evaluate (the references, running the command, have no key file or
// image to give it).
func checkFindings(l *attest.Layout) []attest.Finding {
	var out []attest.Finding
	for _, in := range l.Inspect {
		spec, ok, err := check.ParseCommand(in.Run)
		if !ok {
			continue
		}
		bad := func(msg, fix string) {
			out = append(out, attest.Finding{Rule: lintCheckInvalid, Severity: attest.SeverityError, Step: in.Name, Message: fmt.Sprintf("inspection %q: %s, so it can never pass", in.Name, msg), Fix: fix})
		}
		if err != nil {
			bad(err.Error(), "write it as referee check --cel EXPR FILE… or referee check --attestation TYPE --signed-by FUNCTIONARY --cel EXPR")
			continue
		}
		if _, err := check.Compile(spec.CEL); err != nil {
			bad(err.Error(), "correct the expression (referee check --cel EXPR FILE tries it on a file)")
		}
		if spec.Attestation == "" {
			continue
		}
		named := false
		for _, k := range l.Keys {
			named = named || k.HasID(spec.SignedBy)
		}
		if !named {
			bad(fmt.Sprintf("--signed-by %q is no key of the layout", spec.SignedBy), "name a functionary of the spec (its key goes into the layout) or a keyid of the layout's keys")
		}
		out = append(out, attest.Finding{Rule: lintCheckNativeOnly, Severity: attest.SeverityWarning, Step: in.Name,
			Message: fmt.Sprintf("inspection %q checks attestations: only referee's verification evaluates it; in-toto-verify, running it as a command, fails it", in.Name),
			Fix:     "verify with referee, or check a file a link records instead (referee check --cel EXPR FILE)"})
	}
	return out
}
