// Package lazyre compiles a package's regular expressions when they are
// first used rather than when the program starts.
//
// A regexp.MustCompile in a package variable runs at initialisation, in
// every command, whether or not the command matches anything: referee's
// own took about 1 ms of each process start (GODEBUG=inittrace=1), more
// than a tenth of `referee version`. Go's internal/lazyregexp does the
// same for the standard library; it is not importable.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr the first time it is called
// (once, whichever goroutine calls first) and returns the same
// *regexp.Regexp after that. Like regexp.MustCompile, it panics if expr
// does not compile: each expression is a constant of the program, and its
// package's tests use it.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
