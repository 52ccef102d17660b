package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
)

// Set by the release build: -ldflags "-X
// github.com/referee-dev/referee/cli.buildVersion=… ….buildCommit=…
// ….buildDate=…" (see .goreleaser.yaml). Unset, they come from the Go build
// information: the module version for `go install …@vX`, the VCS stamp
// (commit, time, modified) for a build in a git checkout.
var (
	buildVersion, buildCommit, buildDate string
)

// versionInfo is what `referee version` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Date     string `json:"date,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func version() versionInfo {
	v := versionInfo{Version: buildVersion, Commit: buildCommit, Date: buildDate}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if v.Version == "" {
			v.Version = "(unknown)"
		}
		return v
	}
	v.Go = bi.GoVersion
	if v.Version == "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.Commit == "" {
				v.Commit = s.Value
			}
		case "vcs.time":
			if v.Date == "" {
				v.Date = s.Value
			}
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if v.Version == "" || v.Version == "(devel)" {
		v.Version = "devel"
	}
	return v
}

func (v versionInfo) short() string {
	s := v.Version
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (" + c
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s
}

func (v versionInfo) write(w io.Writer, full bool) error {
	if !full {
		_, err := fmt.Fprintf(w, "referee %s\n", v.short())
		return err
	}
	commit := v.Commit
	if commit == "" {
		commit = "(not recorded: built outside a git checkout, or with -buildvcs=false)"
	} else if v.Modified {
		commit += " (with uncommitted changes)"
	}
	date := v.Date
	if date == "" {
		date = "(not recorded)"
	}
	_, err := fmt.Fprintf(w, "referee %s\ncommit: %s\nbuilt: %s\ngo: %s\n", v.Version, commit, date, v.Go)
	return err
}

func versionCommand() *cli.Command {
	out := option.NewOutput(option.TextJSON...)
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit, build date and Go version",
		Description: `The commit and date come from the release build, or from Go's VCS stamp when built in a git
checkout (go build, go install).

Examples:
   referee version
   referee --version
   referee version --format json`,
		Flags: option.Flags(&out),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 0, 0, "no arguments"); err != nil {
				return err
			}
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), version())
			}
			return version().write(out.Stdout(c), true)
		}, &out),
	}
}
