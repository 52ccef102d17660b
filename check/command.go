package check

import (
	"errors"
	"fmt"
	"strings"
)

// Spec is a native check as an inspection's run names it:
//
//	referee check --cel EXPR [--attestation PREDICATE_TYPE --signed-by KEYID] [--image IMAGE] FILE...
//
// Each file, and the predicate of each attestation of the predicate type
// attached to the image, signed by the key, is bound to input in turn.
type Spec struct {
	// CEL is the expression.
	CEL string
	// Files are the JSON documents to check, as the command names them
	// (paths relative to the inspection's directory).
	Files []string
	// Attestation is the predicate type of the attestations to check; ""
	// checks only Files.
	Attestation string
	// SignedBy is the key ID that must have signed those attestations.
	SignedBy string
	// Image is the image whose attestations are checked; "" is the image
	// being verified.
	Image string
}

// checkFlags are the flags of referee check, all with a value, and where
// ParseCommand keeps each.
func checkFlags(s *Spec) map[string]*string {
	return map[string]*string{
		"cel":         &s.CEL,
		"attestation": &s.Attestation,
		"signed-by":   &s.SignedBy,
		"image":       &s.Image,
	}
}

// ParseCommand recognises argv, an inspection's run, as a native check:
// argv[0] is referee (or a path ending in /referee) and argv[1] is check.
// ok is false for any other command, which runs as a command. For a
// referee check command that is malformed (an unknown or repeated flag, no
// --cel, --signed-by without --attestation or the reverse, nothing to
// check) the error says what is wrong and ok is true: such an inspection
// fails, it is not run as a command.
//
// Flags are read as the referee command line reads them: -flag or --flag,
// with the value as the next argument or after "=", before or among the
// files; everything after "--" is a file.
func ParseCommand(argv []string) (Spec, bool, error) {
	if len(argv) < 2 || argv[1] != "check" || (argv[0] != "referee" && !strings.HasSuffix(argv[0], "/referee")) {
		return Spec{}, false, nil
	}
	var s Spec
	flags := checkFlags(&s)
	seen := map[string]bool{}
	args := argv[2:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			s.Files = append(s.Files, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			s.Files = append(s.Files, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		dst, known := flags[name]
		switch {
		case !known:
			return Spec{}, true, fmt.Errorf("referee check: unknown flag %s (it takes --cel, --attestation, --signed-by, --image and files)", a)
		case seen[name]:
			return Spec{}, true, fmt.Errorf("referee check: --%s is given twice", name)
		case !hasValue && i+1 >= len(args):
			return Spec{}, true, fmt.Errorf("referee check: --%s needs a value", name)
		case !hasValue:
			i++
			value = args[i]
		}
		seen[name] = true
		*dst = value
	}
	if err := s.validate(); err != nil {
		return Spec{}, true, fmt.Errorf("referee check: %w", err)
	}
	return s, true, nil
}

func (s Spec) validate() error {
	switch {
	case s.CEL == "":
		return errors.New("--cel EXPR is missing (the expression to check)")
	case s.SignedBy != "" && s.Attestation == "":
		return errors.New("--signed-by needs --attestation PREDICATE_TYPE (the attestations it signs)")
	case s.Attestation != "" && s.SignedBy == "":
		return errors.New("--attestation needs --signed-by KEYID (an attestation counts only signed by a key of the layout)")
	case s.Image != "" && s.Attestation == "":
		return errors.New("--image needs --attestation PREDICATE_TYPE (files are not read from an image)")
	case len(s.Files) == 0 && s.Attestation == "":
		return errors.New("nothing to check: name a FILE or --attestation PREDICATE_TYPE")
	}
	for _, f := range s.Files {
		if f == "" {
			return errors.New("a file name is empty")
		}
	}
	return nil
}
