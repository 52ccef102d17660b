package cli

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// progressLine returns a progress callback that keeps one line on stderr up
// to date, at most ten times a second, and only when stderr is a terminal
// and not --quiet (scripts and CI logs get no progress noise); nil
// otherwise. unit is singular ("file"); the plural adds "s".
func progressLine(c *cli.Context, quiet bool, verb, unit string) func(n int, bytes int64) {
	f, ok := c.App.ErrWriter.(*os.File)
	if !ok || quiet || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var mu sync.Mutex
	var last time.Time
	return func(n int, bytes int64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(f, "\r\033[K%s: %s, %.1f MB", verb, plural(n, unit), float64(bytes)/1e6)
	}
}

// endProgress clears the progress line, if one was drawn.
func endProgress(c *cli.Context, p func(int, int64)) {
	if p != nil {
		fmt.Fprint(c.App.ErrWriter, "\r\033[K")
	}
}

// plural writes "1 file", "2 files".
func plural(n int, unit string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, unit)
	}
	if l := len(unit); l > 1 && unit[l-1] == 'y' && !strings.ContainsRune("aeiou", rune(unit[l-2])) {
		return fmt.Sprintf("%d %sies", n, unit[:len(unit)-1])
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
