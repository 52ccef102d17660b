package attest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Check checks, before anything runs, what can be known of a step to be
// recorded into a link file: that its name can name the file
// (ValidateStepName), that the recording options agree, that Record.Dir is
// a directory, and that every material that exists can be read (a
// directory: listed; what is under it is read when recorded, still before
// the command runs). A material that does not exist is no error: recording
// skips it, as in-toto-run does, and lists it in the RunResult. Products are
// not checked: the command makes them.
//
// RunStep and StartStep do not call Check: inspections, which are recorded
// the same way but never written to a file, may have any name.
func (o RunOptions) Check() error {
	if err := ValidateStepName(o.StepName); err != nil {
		return err
	}
	if err := o.Record.checkLStrip(); err != nil {
		return err
	}
	if o.Record.Dir != "" {
		st, err := os.Stat(o.Record.Dir)
		if err != nil {
			return fmt.Errorf("directory %s: %w", o.Record.Dir, errors.Unwrap(err))
		}
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", o.Record.Dir)
		}
	}
	for _, p := range o.Materials {
		if err := checkReadable(o.Record, p); err != nil {
			return fmt.Errorf("material %q: %w", p, err)
		}
	}
	return nil
}

// checkReadable opens the file or directory at p, if there is one, as
// recording it will.
func checkReadable(o RecordOptions, p string) error {
	abs := o.resolve(p)
	info, err := os.Lstat(abs)
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return errors.Unwrap(err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		if o.RefuseSymlinks {
			return errors.New("is a symlink (refused by --no-symlinks)")
		}
		if info, err = os.Stat(abs); isMissing(err) {
			return nil
		} else if err != nil {
			return errors.Unwrap(err)
		}
	}
	if !info.Mode().IsRegular() && !info.IsDir() {
		return nil // not recorded
	}
	f, err := os.Open(abs)
	if err != nil {
		return errors.Unwrap(err)
	}
	defer f.Close()
	if info.IsDir() {
		if _, err := f.ReadDir(1); err != nil && !errors.Is(err, io.EOF) {
			return errors.Unwrap(err)
		}
	}
	return nil
}
