package verify

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
)

// Inspector runs an inspection and returns the unsigned link of what it
// found (materials before, products after). An Inspector that is also a
// StagingInspector is given the artifacts of the verified links.
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#433-inspections
type Inspector interface {
	Inspect(ctx context.Context, in attest.Inspection) (*attest.Link, error)
}

// inspections runs a layout's inspections for each choice of links the
// engine tries: a native check (run `referee check …`) in-process, over
// the artifacts of those links; a command through Options.Inspector. Each
// runs once for each distinct set of artifacts it is given (a plain
// Inspector, which is given none, once).
type inspections struct {
	layout *attest.Layout
	o      Options
	cache  *artifactCache
	// outcomes are by inspection name and, where artifacts are given,
	// their fingerprint.
	outcomes map[string]*outcome
	programs map[string]programOrError
	// attested holds the attestation part of each native check, which
	// does not depend on the links.
	attested map[string]*outcome
	// read are Options.Attestations as read so far, by index.
	read map[int]*attestationRead
}

type programOrError struct {
	p   *check.Program
	err error
}

// outcome is what one inspection found: its report, its link (nil when it
// did not run) and its failures.
type outcome struct {
	report StepReport
	link   *attest.Link
	fails  []Failure
}

func newInspections(layout *attest.Layout, o Options) *inspections {
	return &inspections{
		layout:   layout,
		o:        o,
		cache:    newArtifactCache(o.Artifacts, checkedFiles(layout)),
		outcomes: map[string]*outcome{},
		programs: map[string]programOrError{},
		attested: map[string]*outcome{},
	}
}

// checkedFiles are the paths the layout's native checks read.
func checkedFiles(layout *attest.Layout) map[string]bool {
	files := map[string]bool{}
	for _, in := range layout.Inspect {
		if spec, ok, err := check.ParseCommand(in.Run); ok && err == nil {
			for _, f := range spec.Files {
				files[path.Clean(f)] = true
			}
		}
	}
	return files
}

// run runs every inspection for the steps' links, returning their
// reports, the links they made (by inspection name) and their failures.
func (x *inspections) run(ctx context.Context, links map[string]*attest.Link) ([]StepReport, map[string]*attest.Link, []Failure) {
	var set *staged
	artifacts := func() *staged {
		if set == nil {
			set = stage(ctx, x.layout, links, x.cache)
		}
		return set
	}
	var reports []StepReport
	var fails []Failure
	made := map[string]*attest.Link{}
	for _, in := range x.layout.Inspect {
		out := x.one(ctx, in, artifacts)
		sr := out.report
		sr.Checks = append([]CheckResult(nil), sr.Checks...)
		reports = append(reports, sr)
		if out.link != nil {
			made[in.Name] = out.link
		}
		fails = append(fails, out.fails...)
	}
	return reports, made, fails
}

func (x *inspections) one(ctx context.Context, in attest.Inspection, artifacts func() *staged) *outcome {
	fail := func(f Failure) *outcome {
		f.Inspection = in.Name
		return &outcome{report: StepReport{Name: in.Name}, fails: []Failure{f}}
	}
	spec, native, perr := check.ParseCommand(in.Run)
	if x.o.sublayoutSigner != "" {
		return fail(Failure{KeyID: x.o.sublayoutSigner, Reason: fmt.Sprintf("a sublayout's inspection (`%s`) is never run: the sublayout is signed by a functionary, not by the layout owner, so its inspections are not trusted (not even a referee check, which runs no command)", visible(shellJoin(in.Run), false))})
	}
	if native {
		if perr != nil {
			return fail(Failure{Reason: perr.Error()})
		}
		set := artifacts()
		key := in.Name + "\x00" + set.fp
		if out := x.outcomes[key]; out != nil {
			return out
		}
		out := x.native(ctx, in, spec, set)
		x.outcomes[key] = out
		return out
	}
	if x.o.Inspector == nil {
		return fail(Failure{Reason: fmt.Sprintf("the layout's inspection runs `%s`; referee runs inspection commands only when asked (--run-inspections)", visible(shellJoin(in.Run), false))})
	}
	key := in.Name
	var run func() (*attest.Link, error)
	if si, ok := x.o.Inspector.(StagingInspector); ok {
		set := artifacts()
		key += "\x00" + set.fp
		run = func() (*attest.Link, error) { return si.InspectArtifacts(ctx, in, set.list(), x.cache) }
	} else {
		run = func() (*attest.Link, error) { return x.o.Inspector.Inspect(ctx, in) }
	}
	if out := x.outcomes[key]; out != nil {
		return out
	}
	link, err := run()
	var out *outcome
	if err != nil {
		f := Failure{Reason: "inspection failed: " + err.Error()}
		errors.As(err, &f.Command)
		out = fail(f)
	} else {
		out = &outcome{report: StepReport{Name: in.Name, Passed: true}, link: link}
	}
	x.outcomes[key] = out
	return out
}

// program compiles a check's expression once per verification.
func (x *inspections) program(expr string) (*check.Program, error) {
	if p, ok := x.programs[expr]; ok {
		return p.p, p.err
	}
	p, err := check.Compile(expr)
	x.programs[expr] = programOrError{p, err}
	return p, err
}

// attachInspectionRules puts each inspection's rule results in its report.
func attachInspectionRules(inspections []StepReport, rules map[string][]RuleResult) {
	for i := range inspections {
		if rr, ok := rules["inspection:"+inspections[i].Name]; ok {
			inspections[i].Rules = rr
			for _, x := range rr {
				if !x.Passed {
					inspections[i].Passed = false
				}
			}
		}
	}
}
