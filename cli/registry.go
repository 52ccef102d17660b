package cli

import (
	"fmt"
	"log"
	"net"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/registry"
)

func registryCommand() *cli.Command {
	return &cli.Command{
		Name:  "registry",
		Usage: "run a local OCI registry (for trying referee out, its demo and tests)",
		Description: `A registry with the OCI 1.1 referrers API, to store evidence next to images
without a remote registry.

Example:
   referee registry serve --root /tmp/referee-registry`,
		Subcommands: []*cli.Command{registryServeCommand()},
	}
}

func registryServeCommand() *cli.Command {
	var (
		out                      = option.NewOutput()
		addr, root               string
		noReferrers, allowRemote bool
	)
	return &cli.Command{
		Name:  "serve",
		Usage: "serve an OCI registry (distribution API with referrers) until interrupted",
		Description: `Runs go-containerregistry's registry on --addr. Once it listens, prints the address
(host:port) on stdout, one line, so scripts can read it; the request log goes to stderr.
Stops cleanly on Ctrl-C. Without --root everything is kept in memory; with --root, blobs
and manifests are kept in that directory and a restarted registry serves them again.
The registry has no authentication: it listens on loopback only unless --allow-remote.

Examples:
   referee registry serve --root /tmp/referee-registry &
   crane push image.tar 127.0.0.1:5000/demo/app:v1

   referee registry serve --addr 127.0.0.1:0 >addr.txt &   # any free port, written to addr.txt`,
		Flags: append(option.Flags(&out),
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5000", Usage: "`HOST:PORT` to listen on (port 0: any free port)", Destination: &addr},
			&cli.StringFlag{Name: "root", Usage: "keep blobs and manifests in `DIR` (default: in memory)", Destination: &root},
			&cli.BoolFlag{Name: "no-referrers", Usage: "turn off the OCI 1.1 referrers API, as on registries where clients must use the tag schema", Destination: &noReferrers},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow an --addr that is not loopback (anyone who can reach it can push and delete)", Destination: &allowRemote},
		),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 0, 0, "no arguments"); err != nil {
				return err
			}
			if err := checkListenAddr(addr, allowRemote); err != nil {
				return err
			}
			logger := log.New(out.Stderr(c), "", log.LstdFlags)
			h, err := registry.New(registry.Options{Root: root, NoReferrers: noReferrers, Logger: logger})
			if err != nil {
				return fmt.Errorf("--root %s: %w", root, err)
			}
			var werr error
			err = registry.Serve(c.Context, addr, h, func(a net.Addr) {
				// The address is the result a script waits for: printed
				// even with --quiet, which silences the request log.
				_, werr = fmt.Fprintln(c.App.Writer, a.String())
				logger.Printf("registry: listening on %s", a)
			})
			if err != nil {
				return err
			}
			logger.Printf("registry: stopped")
			return werr
		}, &out),
	}
}

// checkListenAddr refuses an address other than loopback unless allowed:
// the registry has no authentication.
func checkListenAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return option.Usagef("--addr %q: %v", addr, err)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := fmt.Sprintf("%q is not a loopback address", host)
	if host == "" {
		what = "an empty host listens on every interface"
	}
	return option.Usagef("--addr %s: %s; the registry is unauthenticated, pass --allow-remote to serve it anyway", addr, what)
}
