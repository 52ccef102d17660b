package promote

import (
	"fmt"
	"strings"

	"github.com/referee-dev/referee/slsa"
	"github.com/referee-dev/referee/verify"
)

// slsaPrefix starts the levels SLSA reserves: a VSA's verifiedLevels may
// hold custom values, but none starting with it
// (https://slsa.dev/spec/v1.0/verification_summary#fields).
const slsaPrefix = "SLSA_"

// checkLevels refuses, before anything is verified, a level given that
// SLSA reserves but that is not a Build level (SLSA_BUILD_LEVEL_0 to 3).
func checkLevels(levels []string) error {
	for _, l := range levels {
		if strings.HasPrefix(l, slsaPrefix) {
			if _, err := slsa.ParseBuildLevel(l); err != nil {
				return fmt.Errorf("level %w; other levels must not start with %s", err, slsaPrefix)
			}
		}
	}
	return nil
}

// verifiedLevels returns the levels the summary records for w, a walk
// that verified: o.Levels, each SLSA Build level among them supported by
// the verified evidence, or when none is given DefaultLevels and the
// Build level the evidence supports (slsa.Level over the layout's
// declaration). A level the evidence does not support, or a layout whose
// declaration is malformed, is a *verify.NotVerifiedError naming the
// level and the requirement not met, whatever the levels given.
func verifiedLevels(w *verify.Walked, o Options) ([]string, *slsa.Result, error) {
	layout, err := slsa.VerifiedLayout(w, o.Verify)
	if err != nil {
		return nil, nil, err
	}
	res := slsa.Level(layout, w.Report)
	if res.Invalid != "" {
		return nil, &res, &verify.NotVerifiedError{Failures: []verify.Failure{{Source: w.Report.Layout.Source, Reason: res.Invalid}}}
	}
	if len(o.Levels) == 0 {
		return append(append([]string(nil), DefaultLevels...), res.Level.String()), &res, nil
	}
	var fails []verify.Failure
	for _, l := range o.Levels {
		want, err := slsa.ParseBuildLevel(l)
		if err != nil {
			continue // not an SLSA level (checkLevels refused those that start with SLSA_)
		}
		if q := res.Unmet(want); q != nil {
			fails = append(fails, verify.Failure{Reason: fmt.Sprintf("level %s is not supported by the evidence (it supports %s): L%d %s is not met: %s", want, res.Level, int(q.Level), q.Name, q.Reason)})
		}
	}
	if len(fails) > 0 {
		return nil, &res, &verify.NotVerifiedError{Failures: fails}
	}
	return o.Levels, &res, nil
}

// refused is r with failures added and verification marked failed, for
// the report of a promotion refused after the engine passed it.
func refused(r *verify.Report, fails []verify.Failure) *verify.Report {
	c := *r
	c.Verified = false
	c.Failures = append(append([]verify.Failure(nil), r.Failures...), fails...)
	return &c
}
