package main

import (
	"fmt"
	"log"
	"net"

	"github.com/urfave/cli/v2"

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
		Subcommands: []*cli.Command{
			registryServeCommand(),
		},
	}
}

func registryServeCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve an OCI registry (distribution API with referrers) until interrupted",
		Description: `Runs go-containerregistry's registry on --addr. Once it listens, prints the address
(host:port) on stdout, one line, so scripts can read it; the request log goes to stderr.
Stops cleanly on Ctrl-C. Without --root everything is kept in memory; with --root, blobs
and manifests are kept in that directory and a restarted registry serves them again.
The registry has no authentication: it listens on loopback only unless --allow-remote.

Example:
   referee registry serve --root /tmp/referee-registry &
   crane push image.tar 127.0.0.1:5000/demo/app:v1

   referee registry serve --addr 127.0.0.1:0 >addr.txt &   # any free port, written to addr.txt`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5000", Usage: "`HOST:PORT` to listen on (port 0: any free port)"},
			&cli.StringFlag{Name: "root", Usage: "keep blobs and manifests in `DIR` (default: in memory)"},
			&cli.BoolFlag{Name: "no-referrers", Usage: "turn off the OCI 1.1 referrers API, as on registries where clients must use the tag schema"},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow an --addr that is not loopback (anyone who can reach it can push and delete)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("unexpected argument %q", c.Args().First())
			}
			addr := c.String("addr")
			if err := checkListenAddr(addr, c.Bool("allow-remote")); err != nil {
				return err
			}
			logger := log.New(c.App.ErrWriter, "", log.LstdFlags)
			h, err := registry.New(registry.Options{
				Root:        c.String("root"),
				NoReferrers: c.Bool("no-referrers"),
				Logger:      logger,
			})
			if err != nil {
				return err
			}
			var werr error
			err = registry.Serve(c.Context, addr, h, func(a net.Addr) {
				_, werr = fmt.Fprintln(c.App.Writer, a.String())
				logger.Printf("registry: listening on %s", a)
			})
			if err != nil {
				return err
			}
			logger.Printf("registry: stopped")
			return werr
		},
	}
}

// checkListenAddr refuses an address other than loopback unless allowed:
// the registry has no authentication.
func checkListenAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--addr %q: %v", addr, err)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := fmt.Sprintf("%q is not a loopback address", host)
	if host == "" {
		what = "an empty host listens on every interface"
	}
	return usagef("--addr %s: %s; the registry is unauthenticated, pass --allow-remote to serve it anyway", addr, what)
}
