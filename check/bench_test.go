package check_test

import (
	"testing"

	"github.com/referee-dev/referee/check"
)

// BenchmarkEval checks a 10,000-entry vulnerability report: clean (every
// entry visited, true), and with its last entry CRITICAL (every entry
// visited, false, explained by that entry).
func BenchmarkEval(b *testing.B) {
	p := mustCompile(b, noCritical)
	for _, bc := range []struct {
		name, last string
		pass       bool
	}{{"clean", "LOW", true}, {"critical", "CRITICAL", false}} {
		doc, err := check.ReadJSON("report.json", entries(10000, bc.last))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := p.Eval(b.Context(), check.Input{Document: doc})
				if err != nil || r.Pass != bc.pass {
					b.Fatal(r, err)
				}
			}
		})
	}
}

// BenchmarkReadJSON reads the 10,000-entry report (about 870 KB).
func BenchmarkReadJSON(b *testing.B) {
	data := entries(10000, "LOW")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := check.ReadJSON("report.json", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile compiles the expression and the unit that explains
// its quantifier.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		mustCompile(b, trivyNoCritical)
	}
}
