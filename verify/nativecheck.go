package verify

import (
	"context"
	"errors"
	"path"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
)

// native evaluates the native check spec of inspection in, in-process: no
// command runs. Its materials, and its products, which equal them, are
// the artifacts of set that are available, so that its expected_materials
// and expected_products rules apply to them as to any inspection's link.
// Each file it names must be one of them; the expression must hold over
// each file and over each attestation it selects (see attestations). A
// check that cannot be evaluated fails the inspection, as one that is
// false does. See https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#433-inspections
// for the inspection's link.
func (x *inspections) native(ctx context.Context, in attest.Inspection, spec check.Spec, set *staged) *outcome {
	out := &outcome{
		report: StepReport{Name: in.Name, Passed: true},
		link:   &attest.Link{Type: "link", Name: in.Name, Command: in.Run, Materials: set.available, Products: set.available},
	}
	fail := func(f Failure) {
		f.Inspection = in.Name
		out.fails = append(out.fails, f)
		out.report.Passed = false
	}
	prog, err := x.program(spec.CEL)
	if err != nil {
		fail(Failure{Reason: err.Error()})
		return out
	}
	for _, name := range spec.Files {
		p := path.Clean(name)
		h, ok := set.available[p]
		var data []byte
		err := errors.New(set.missingReason(p, x.o.ImageDigest))
		if ok {
			data, err = x.cache.forCheck(ctx, p, h["sha256"])
		}
		var res check.Result
		if err == nil {
			res, err = check.File(ctx, prog, name, data)
		}
		if err != nil {
			out.report.Checks = append(out.report.Checks, CheckResult{File: name, Reason: err.Error()})
			fail(Failure{Artifact: name, Reason: err.Error()})
			continue
		}
		out.report.Checks = append(out.report.Checks, CheckResult{File: name, Passed: res.Pass, Reason: res.Reason})
		if !res.Pass {
			fail(Failure{Artifact: name, Reason: res.Reason})
		}
	}
	if spec.Attestation != "" {
		a := x.attested[in.Name]
		if a == nil {
			a = x.attestations(ctx, in, spec, prog)
			x.attested[in.Name] = a
		}
		out.report.Checks = append(out.report.Checks, a.report.Checks...)
		for _, f := range a.fails {
			fail(f)
		}
	}
	return out
}
