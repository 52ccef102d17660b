package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// goal is one line of the summary: a goal of issue 13, its target and the
// measured figure.
type goal struct {
	name, target, measured string
	met                    bool
}

// section is what one part of the bench prints: a heading, notes, a table
// and the goals it measured.
type section struct {
	title string
	notes []string
	head  []string
	rows  [][]string
	goals []goal
}

func (s section) write(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n", s.title)
	for _, n := range s.notes {
		fmt.Fprintf(w, "%s\n", n)
	}
	if len(s.notes) > 0 {
		fmt.Fprintln(w)
	}
	if len(s.head) > 0 {
		writeTable(w, s.head, s.rows)
		fmt.Fprintln(w)
	}
	for _, g := range s.goals {
		fmt.Fprintf(w, "- %s: %s (goal %s) — %s\n", g.name, g.measured, g.target, metWord(g.met))
	}
	if len(s.goals) > 0 {
		fmt.Fprintln(w)
	}
}

func writeTable(w io.Writer, head []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
		if i > 0 {
			sep[i] = "---:"
		}
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(sep, "|"))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

func writeSummary(w io.Writer, goals []goal) {
	fmt.Fprintf(w, "### Goals\n\n")
	rows := make([][]string, len(goals))
	for i, g := range goals {
		rows[i] = []string{g.name, g.target, g.measured, metWord(g.met)}
	}
	writeTable(w, []string{"goal", "target", "measured", ""}, rows)
	fmt.Fprintln(w)
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

// fmtDur prints d as seconds with three significant digits, or
// milliseconds below one second.
func fmtDur(d time.Duration) string {
	switch s := d.Seconds(); {
	case s >= 100:
		return fmt.Sprintf("%.0f s", s)
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	case s >= 0.01:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func fmtMiB(kib int64) string {
	if kib <= 0 {
		return "–"
	}
	return commas(int64((float64(kib)/1024)+0.5)) + " MiB"
}

func fmtX(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.1fx", x)
	}
	return fmt.Sprintf("%.2fx", x)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 10<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.0f KiB", float64(n)/1024)
	}
}

// commas writes n with thousands separators: 1,039.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ratio is a / b as a float, 0 when b is 0.
func ratio[T int64 | time.Duration](a, b T) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
