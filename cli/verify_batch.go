package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// many checks many images concurrently and prints one result per line in
// input order. Exit status: 2 if any could not be checked, else 1 if any
// was not verified, else 0.
func (f *verifyFlags) many(c *cli.Context, images []string, co promote.CheckOptions) error {
	var check []string
	skipped := map[int]bool{}
	for i, img := range images {
		if ref, err := oci.ParseReference(img); err == nil && ref.Digest == "" && oci.IsEvidenceTag(ref.Tag) {
			skipped[i] = true
			continue
		}
		check = append(check, img)
	}
	w := f.out.Stdout(c)
	var verified, failed, errored int
	i := 0
	printSkipped := func() error {
		for ; skipped[i]; i++ {
			reason := "a referrers index of the tag schema, not an image"
			var err error
			if f.out.JSON() {
				err = option.WriteJSONLine(w, verifyJSON{Image: images[i], Skipped: reason})
			} else {
				_, err = fmt.Fprintf(w, "SKIPPED %s: %s\n", images[i], reason)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	err := promote.CheckMany(c.Context, check, co, f.parallel, func(out promote.Outcome) error {
		if err := printSkipped(); err != nil {
			return err
		}
		i++
		switch {
		case out.Err == nil:
			verified++
		case verify.IsNotVerified(out.Err):
			failed++
		default:
			errored++
		}
		if f.out.JSON() {
			return option.WriteJSONLine(w, outcomeJSON(out, false))
		}
		ref := out.Ref
		if out.Image != "" && !strings.Contains(ref, "@") {
			ref += "@" + out.Image
		}
		var err error
		switch {
		case out.Err == nil:
			_, err = fmt.Fprintf(w, "VERIFIED %s\n", ref)
		case verify.IsNotVerified(out.Err):
			_, err = fmt.Fprintf(w, "NOT-VERIFIED %s: %s\n", ref, oneLine(out.Err.Error()))
		default:
			_, err = fmt.Fprintf(w, "ERROR %s: %s\n", ref, oneLine(out.Err.Error()))
		}
		return err
	})
	if err == nil {
		err = printSkipped()
	}
	if err != nil {
		return err
	}
	summary := batchSummary(len(images), verified, failed, errored, len(skipped))
	switch {
	case errored > 0:
		return errors.New(summary)
	case failed > 0:
		return &verify.NotVerifiedError{Failures: []verify.Failure{{Reason: summary}}}
	}
	if len(skipped) > 0 {
		fmt.Fprintln(f.out.Stderr(c), summary)
	}
	return nil
}

// batchSummary says how a batch went, every count once:
// "5 images: 2 verified, 1 not verified, 2 could not be checked".
func batchSummary(total, verified, failed, errored, skipped int) string {
	parts := []string{fmt.Sprintf("%d verified", verified)}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d not verified", failed))
	}
	if errored > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be checked", errored))
	}
	if skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped (not images)", skipped))
	}
	return fmt.Sprintf("%s: %s", plural(total, "image"), strings.Join(parts, ", "))
}

// failuresOf returns the failures of a verification error.
func failuresOf(err error) []verify.Failure {
	var nv *verify.NotVerifiedError
	if errors.As(err, &nv) {
		return nv.Failures
	}
	return nil
}

// readRefs reads image references from r, one per line; blank lines and
// lines starting with # are skipped.
func readRefs(r io.Reader) ([]string, error) {
	var refs []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		refs = append(refs, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading references from stdin: %w", err)
	}
	return refs, nil
}
