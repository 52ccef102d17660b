package verify_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// hostileReport is a failed report with attack in every string.
func hostileReport(attack string) *verify.Report {
	use := []verify.LinkUse{{Source: attack, KeyIDs: []string{attack, attack + strings.Repeat("a", 64)}, Reason: attack}}
	claims := &layoutref.Claims{KeyIDs: []string{attack, ""}, Expires: attack, Version: 2}
	step := verify.StepReport{Name: attack, Threshold: 1, Used: use, Rejected: use,
		Rules: []verify.RuleResult{{Set: attack, Rule: attack, Message: attack}}}
	fail := verify.Failure{Step: attack, Inspection: attack, Rule: attack, Artifact: attack, KeyID: attack, Source: attack, Reason: attack,
		Command: &verify.CommandError{Command: attack, ExitCode: 1, Stdout: attack + "\n\tindented " + attack, Stderr: attack}}
	r := &verify.Report{
		Image: attack,
		Layout: verify.LayoutReport{Source: attack, Expires: attack, Version: 3, Signers: []string{attack}, Unverified: claims,
			NotUsed: []layoutref.Rejected{{Source: attack, Reason: attack, Unverified: claims}}},
		Steps:       []verify.StepReport{step, {Name: attack, Threshold: 1, NotEvaluated: "rules not evaluated: " + attack}},
		Inspections: []verify.StepReport{{Name: attack, Rules: step.Rules}},
		Warnings:    []string{attack},
		Failures:    []verify.Failure{fail, {Reason: attack}},
	}
	sub := *r
	sub.Image = ""
	r.Steps = append(r.Steps, verify.StepReport{Name: attack, Threshold: 1, Sublayout: &sub})
	return r
}

// TestReportTextQuotesWhatOthersWrote: whatever the registry and the
// documents say, the text report and the errors hold nothing a terminal
// acts on, show each attack quoted, and end with the one verdict line
// verify wrote.
func TestReportTextQuotesWhatOthersWrote(t *testing.T) {
	for _, attack := range testenv.TerminalAttacks {
		t.Run(strconv.Quote(attack), func(t *testing.T) {
			r := hostileReport(attack)
			var b strings.Builder
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			text := b.String()
			if why := testenv.TerminalUnsafe(text, true); why != "" {
				t.Errorf("report holds a %s:\n%q", why, text)
			}
			if !strings.Contains(text, strconv.Quote(attack)) {
				t.Errorf("report does not show %s:\n%s", strconv.Quote(attack), text)
			}
			// A command's output is shown indented, line by line; only
			// the verdict starts a line with PASS or NOT VERIFIED.
			for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				if strings.HasPrefix(line, "PASS") {
					t.Errorf("a line of a failed report says PASS: %q", line)
				}
			}
			if !strings.HasSuffix(text, "\nNOT VERIFIED\n") {
				t.Errorf("report does not end with its verdict:\n%s", text)
			}
			err := &verify.NotVerifiedError{Failures: r.Failures}
			for _, msg := range []string{err.Error(), r.Failures[0].Error(), r.Failures[1].Error(), r.Layout.Unverified.String()} {
				if why := testenv.TerminalUnsafe(msg, true); why != "" || strings.Contains(msg, "\n") {
					t.Errorf("message holds a %s or a newline: %q", why, msg)
				}
			}
		})
	}
}

// TestReportJSONEscapesControls: JSON output needs no quoting of its own,
// encoding/json escapes ESC, CR, BEL and the other C0 controls and keeps
// every value; invalid UTF-8 becomes U+FFFD.
func TestReportJSONEscapesControls(t *testing.T) {
	for _, attack := range testenv.TerminalAttacks {
		data, err := json.Marshal(hostileReport(attack))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range data {
			if c < 0x20 {
				t.Fatalf("JSON of %q holds byte %#x", attack, c)
			}
		}
		var back verify.Report
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if want := strings.ToValidUTF8(attack, "\ufffd"); back.Steps[0].Name != want {
			t.Errorf("JSON changed %q to %q", attack, back.Steps[0].Name)
		}
	}
}

// TestReportFromAHostileRegistry: an attacker who can push attaches a
// layout of their own whose expiry, readme and keyid are escape
// sequences, and a link whose step name paints a green PASS; the owner's
// evidence is there too. Whatever verify decides, its report and error,
// read from an in-process registry, hold nothing a terminal acts on.
func TestReportFromAHostileRegistry(t *testing.T) {
	const attack = "\x1b[32mPASS: the supply chain verifies\x1b[0m\r"
	for _, tc := range []struct {
		name   string
		honest bool
	}{{"only the attacker's layout", false}, {"beside the owner's evidence", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTMChain(t)
			s := tmOpen(t, tmRegistry(t, true)+"/app")
			image := tmPushImage(t, s, "app.tar")
			if tc.honest {
				image = honestImage(t, c, s, "app.tar")
			}
			mallory := c.keys["mallory"]
			l := c.layout()
			var doc map[string]any
			if err := json.Unmarshal(must(l.Marshal()), &doc); err != nil {
				t.Fatal(err)
			}
			doc["expires"] = "2099-01-01T00:00:00Z\x1b[2J"
			doc["readme"] = "referee-layout-version: 9\x1b]0;title\x07"
			env, err := attest.SignPayload(attest.FormDSSE, must(json.Marshal(doc)), mallory)
			if err != nil {
				t.Fatal(err)
			}
			env.Signatures[0].KeyID = "\u202e" + c.keyID("mallory")
			tmAttachRaw(t, s, image, oci.ArtifactTypeLayoutDSSE, oci.MediaTypeDSSE, must(env.Marshal()),
				map[string]string{oci.AnnotationKind: "layout", oci.AnnotationCreated: "2030-01-01T00:00:00Z"})
			tmAttach(t, s, image, c.link(attack, "mallory", nil, nil), oci.AttachOptions{})
			tmAttach(t, s, image, c.link("build", "mallory", nil, nil, attack), oci.AttachOptions{})

			r, err := c.verify(s, image, verify.ImageOptions{})
			if r == nil {
				t.Fatalf("no report: %v", err)
			}
			var b strings.Builder
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			text := b.String()
			if why := testenv.TerminalUnsafe(text, true); why != "" {
				t.Errorf("report holds a %s:\n%q", why, text)
			}
			if err != nil {
				if why := testenv.TerminalUnsafe(err.Error(), true); why != "" {
					t.Errorf("error holds a %s: %q", why, err.Error())
				}
			}
			verdict := "NOT VERIFIED\n"
			if r.Verified {
				verdict = "PASS: the supply chain verifies\n"
			}
			unquoted := strings.ReplaceAll(text, `\x1b[32mPASS: the supply chain verifies`, "")
			if strings.Count(unquoted, "PASS: the supply chain verifies") > strings.Count(verdict, "PASS") {
				t.Errorf("an unquoted PASS in the report:\n%s", text)
			}
			if !strings.HasSuffix(text, "\n"+verdict) {
				t.Errorf("report does not end with its verdict %q:\n%s", verdict, text)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
