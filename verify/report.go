package verify

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/layoutref"
)

// Failure is one reason verification failed: which step (or inspection),
// which rule, which artifact, which key and which piece of evidence. Empty
// fields do not apply.
type Failure struct {
	Step       string `json:"step,omitempty"`
	Inspection string `json:"inspection,omitempty"`
	Rule       string `json:"rule,omitempty"`
	Artifact   string `json:"artifact,omitempty"`
	KeyID      string `json:"keyid,omitempty"`
	Source     string `json:"source,omitempty"`
	Reason     string `json:"reason"`
	// Command is the inspection command that failed, with its exit code
	// and the end of its output, when that is the reason.
	Command *CommandError `json:"command,omitempty"`
}

// Error renders the failure on one line. What came from a registry or a
// document (sources, keyids, reasons quoting them) is printed through
// termsafe.Quote, so that it cannot act on a terminal.
func (f *Failure) Error() string {
	var parts []string
	if f.Step != "" {
		parts = append(parts, fmt.Sprintf("step %q", f.Step))
	}
	if f.Inspection != "" {
		parts = append(parts, fmt.Sprintf("inspection %q", f.Inspection))
	}
	if f.Rule != "" {
		parts = append(parts, fmt.Sprintf("rule %q", f.Rule))
	}
	if f.Source != "" {
		parts = append(parts, termsafe.Quote(f.Source))
	}
	if f.KeyID != "" {
		parts = append(parts, "key "+termsafe.Quote(short(f.KeyID)))
	}
	if f.Artifact != "" && !strings.Contains(f.Reason, fmt.Sprintf("%q", f.Artifact)) {
		parts = append(parts, fmt.Sprintf("artifact %q", f.Artifact))
	}
	if len(parts) == 0 {
		return termsafe.Quote(f.Reason)
	}
	return strings.Join(parts, ", ") + ": " + termsafe.Quote(f.Reason)
}

// NotVerifiedError is returned when the evidence does not satisfy the
// layout. Callers branch on it with errors.As (the CLI exits 1 for it and 2
// for any other error).
type NotVerifiedError struct {
	Failures []Failure
}

// Error summarises the failures on one line.
func (e *NotVerifiedError) Error() string {
	if len(e.Failures) == 0 {
		return "not verified"
	}
	msg := "not verified: " + e.Failures[0].Error()
	if n := len(e.Failures) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// IsNotVerified reports whether err is a verification failure.
func IsNotVerified(err error) bool {
	var nv *NotVerifiedError
	return errors.As(err, &nv)
}

// Report is the outcome of a verification, step by step.
type Report struct {
	Verified bool `json:"verified"`
	// Image is the digest verified, when verifying from a registry.
	Image       string       `json:"image,omitempty"`
	Layout      LayoutReport `json:"layout"`
	Steps       []StepReport `json:"steps"`
	Inspections []StepReport `json:"inspections,omitempty"`
	Warnings    []string     `json:"warnings,omitempty"`
	Failures    []Failure    `json:"failures,omitempty"`

	// loadErr is a link file of OpenLinkDir that could not be read: an
	// error of the input, not a verification failure.
	loadErr error
}

// LayoutReport says which layout was verified and who signed it.
type LayoutReport struct {
	Source string `json:"source"`
	// Digest is the sha256 of the layout's signed payload.
	Digest  string   `json:"digest,omitempty"`
	Expires string   `json:"expires"`
	Version int      `json:"version,omitempty"`
	Signers []string `json:"signers"`
	// Unverified is set when the layout's signatures did not verify with
	// every layout key: who its signatures claim signed it, and the expiry
	// and version it gives itself, none of it vouched for. Expires and
	// Version above are then empty: they are only ever verified content.
	Unverified *layoutref.Claims `json:"unverified,omitempty"`
	// NotUsed lists the other layouts found beside it, and why they were
	// not used.
	NotUsed []layoutref.Rejected `json:"notUsed,omitempty"`
}

// StepReport is the outcome for one step or inspection.
type StepReport struct {
	Name      string       `json:"name"`
	Threshold int          `json:"threshold,omitempty"`
	Passed    bool         `json:"passed"`
	Used      []LinkUse    `json:"used,omitempty"`
	Rejected  []LinkUse    `json:"rejected,omitempty"`
	Rules     []RuleResult `json:"rules,omitempty"`
	Sublayout *Report      `json:"sublayout,omitempty"`
	// NotEvaluated says why the step's rules were not evaluated.
	NotEvaluated string `json:"notEvaluated,omitempty"`
	// Checks are, for an inspection that is a native check (referee
	// check), what decided it for each file and attestation it read.
	Checks []CheckResult `json:"checks,omitempty"`
}

// CheckResult is the outcome of a native check over one document: a file
// (an artifact of a verified link) or an attestation of the image.
type CheckResult struct {
	File          string `json:"file,omitempty"`
	Attestation   string `json:"attestation,omitempty"`
	PredicateType string `json:"predicateType,omitempty"`
	Passed        bool   `json:"passed"`
	// Reason is what decided: the expression, its value and the value
	// that made it so, or why it could not be evaluated. One line.
	Reason string `json:"reason"`
}

// LinkUse names one candidate link, the keys it counted for and, when it
// was not used, why.
type LinkUse struct {
	Source string   `json:"source"`
	KeyIDs []string `json:"keyids,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// sub is, for a sublayout used, its own verification's report (the
	// step's Sublayout shows only the first sublayout verified).
	sub *Report
}

// WriteText writes the report for a person: one line per step and link,
// every failure with what to fix. Every string in the report may hold what
// a registry or an unverified document says (sources, step names, keyids,
// reasons, a layout's claims): each is printed through termsafe.Quote, as
// is each line of an inspection's output, so that none can move the
// cursor, clear the screen or paint a PASS over a FAIL.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	r.writeText(&b, "")
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) writeText(b *strings.Builder, indent string) {
	if r.Image != "" {
		fmt.Fprintf(b, "%simage %s\n", indent, termsafe.Quote(r.Image))
	}
	if r.Layout.Source != "" {
		fmt.Fprintf(b, "%slayout %s: %s\n", indent, termsafe.Quote(r.Layout.Source), r.Layout.describe())
	}
	for _, n := range r.Layout.NotUsed {
		fmt.Fprintf(b, "%s  layout %s not used: %s", indent, termsafe.Quote(n.Source), termsafe.Quote(n.Reason))
		if n.Unverified != nil {
			b.WriteString("; " + n.Unverified.String())
		}
		b.WriteString("\n")
	}
	for _, group := range [][]StepReport{r.Steps, r.Inspections} {
		for _, s := range group {
			state := "ok"
			switch {
			case s.NotEvaluated != "":
				state = "not evaluated (" + termsafe.Quote(strings.TrimPrefix(s.NotEvaluated, "rules not evaluated: ")) + ")"
			case !s.Passed:
				state = "FAILED"
			}
			kind := "step"
			if s.Threshold == 0 {
				kind = "inspection"
			}
			fmt.Fprintf(b, "%s%s %s: %s\n", indent, kind, termsafe.Quote(s.Name), state)
			for _, u := range s.Used {
				fmt.Fprintf(b, "%s  used %s (key %s)\n", indent, termsafe.Quote(u.Source), shortList(u.KeyIDs))
			}
			for _, u := range s.Rejected {
				fmt.Fprintf(b, "%s  not used %s: %s\n", indent, termsafe.Quote(u.Source), termsafe.Quote(u.Reason))
			}
			for _, c := range s.Checks {
				what := "file " + termsafe.Quote(c.File)
				if c.File == "" {
					what = "attestation " + termsafe.Quote(c.Attestation)
				}
				verdict := "passed"
				if !c.Passed {
					verdict = "FAILED"
				}
				fmt.Fprintf(b, "%s  check %s: %s: %s\n", indent, what, verdict, termsafe.Quote(c.Reason))
			}
			for _, rr := range s.Rules {
				if !rr.Passed {
					fmt.Fprintf(b, "%s  %s rule %s: FAILED: %s\n", indent, termsafe.Quote(rr.Set), termsafe.Quote(rr.Rule), termsafe.Quote(rr.Message))
				}
			}
			if s.Sublayout != nil {
				s.Sublayout.writeText(b, indent+"    ")
			}
		}
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(b, "%swarning: %s\n", indent, termsafe.Quote(wn))
	}
	for _, f := range r.Failures {
		fmt.Fprintf(b, "%sFAIL %s\n", indent, f.Error())
		if c := f.Command; c != nil {
			for _, out := range []struct{ name, text string }{{"stdout", c.Stdout}, {"stderr", c.Stderr}} {
				if out.text == "" {
					fmt.Fprintf(b, "%s  %s: (nothing)\n", indent, out.name)
					continue
				}
				fmt.Fprintf(b, "%s  %s:\n", indent, out.name)
				for _, line := range strings.Split(out.text, "\n") {
					fmt.Fprintf(b, "%s    %s\n", indent, outputLine(line))
				}
			}
		}
	}
	if indent == "" {
		if r.Verified {
			b.WriteString("PASS: the supply chain verifies\n")
		} else {
			b.WriteString("NOT VERIFIED\n")
		}
	}
}

// describe says who signed the layout and when it expires: verified
// facts, or, when the layout keys did not verify it, what it claims.
func (l *LayoutReport) describe() string {
	var parts []string
	switch {
	case l.Unverified != nil && len(l.Signers) == 0:
		parts = append(parts, "NOT signed by the layout key; "+l.Unverified.String())
	case l.Unverified != nil:
		parts = append(parts, "signed by "+shortList(l.Signers)+" but not by every layout key; "+l.Unverified.String())
	default:
		parts = append(parts, "signed by "+shortList(l.Signers))
	}
	if l.Expires != "" {
		parts = append(parts, "expires "+termsafe.Quote(l.Expires))
	}
	if l.Version > 0 {
		parts = append(parts, fmt.Sprintf("version %d", l.Version))
	}
	return strings.Join(parts, ", ")
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func shortList(ids []string) string {
	if len(ids) == 0 {
		return "(nobody)"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = termsafe.Quote(short(id))
	}
	return strings.Join(s, ", ")
}

// outputLine is a line of a command's output as the report shows it:
// as it is, tabs included, unless it holds what termsafe.Quote escapes.
func outputLine(line string) string {
	if termsafe.Safe(strings.ReplaceAll(line, "\t", " ")) {
		return line
	}
	return termsafe.Quote(line)
}
