package cli

import (
	"fmt"
	"log"
	"net"
	"strings"

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
		out                                   = option.NewOutput()
		addr, root, tlsCert, tlsKey, htpasswd string
		noReferrers, allowRemote, anonPull    bool
	)
	return &cli.Command{
		Name:  "serve",
		Usage: "serve an OCI registry (distribution API with referrers) until interrupted",
		Description: `Runs go-containerregistry's registry on --addr. Once it listens, prints the address
(host:port) on stdout, one line, so scripts can read it; the request log goes to stderr.
Stops cleanly on Ctrl-C. Without --root everything is kept in memory; with --root, blobs
and manifests are kept in that directory (locked: one registry at a time) and a restarted
registry serves them again.

On loopback the registry needs no credentials. Beyond loopback (--allow-remote) it needs TLS
(--tls-cert, --tls-key) and HTTP Basic authentication for the users of an htpasswd file with
bcrypt hashes (htpasswd -B); --anonymous-pull lets anyone pull, never push or delete.

Examples:
   referee registry serve --root /tmp/referee-registry &
   crane push image.tar 127.0.0.1:5000/demo/app:v1

   referee registry serve --addr 127.0.0.1:0 >addr.txt &   # any free port, written to addr.txt
   referee registry serve --addr 0.0.0.0:5443 --allow-remote --tls-cert reg.crt --tls-key reg.key --htpasswd users.htpasswd`,
		Flags: append(option.Flags(&out),
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5000", Usage: "`HOST:PORT` to listen on (port 0: any free port)", Destination: &addr},
			&cli.StringFlag{Name: "root", Usage: "keep blobs and manifests in `DIR` (default: in memory)", Destination: &root},
			&cli.BoolFlag{Name: "no-referrers", Usage: "turn off the OCI 1.1 referrers API, as on registries where clients must use the tag schema", Destination: &noReferrers},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow an --addr that is not loopback (needs --tls-cert, --tls-key and --htpasswd)", Destination: &allowRemote},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with the PEM certificate (chain) in `FILE`", Destination: &tlsCert},
			&cli.StringFlag{Name: "tls-key", Usage: "the PEM private key `FILE` of --tls-cert", Destination: &tlsKey},
			&cli.StringFlag{Name: "htpasswd", Usage: "require HTTP Basic authentication for the users in `FILE` (bcrypt hashes: htpasswd -B)", Destination: &htpasswd},
			&cli.BoolFlag{Name: "anonymous-pull", Usage: "with --htpasswd, let clients without credentials pull; pushes and deletes still need a user", Destination: &anonPull},
		),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 0, 0, "no arguments"); err != nil {
				return err
			}
			if err := checkListenAddr(addr, allowRemote, tlsCert, tlsKey, htpasswd); err != nil {
				return err
			}
			logger := log.New(out.Stderr(c), "", log.LstdFlags)
			h, err := registry.New(registry.Options{Root: root, NoReferrers: noReferrers, Logger: logger,
				TLSCertFile: tlsCert, TLSKeyFile: tlsKey, HtpasswdFile: htpasswd, AnonymousPull: anonPull})
			if err != nil {
				return err
			}
			defer h.Close()
			var werr error
			err = h.Serve(c.Context, addr, func(a net.Addr) {
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

// checkListenAddr refuses an address other than loopback unless allowed,
// and then only with TLS and authentication.
func checkListenAddr(addr string, allowRemote bool, tlsCert, tlsKey, htpasswd string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return option.Usagef("--addr %q: %v", addr, err)
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
	if !allowRemote {
		return option.Usagef("--addr %s: %s; to serve beyond loopback pass --allow-remote with --tls-cert, --tls-key and --htpasswd", addr, what)
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{"--tls-cert", tlsCert}, {"--tls-key", tlsKey}, {"--htpasswd", htpasswd}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return option.Usagef("--addr %s is not loopback: serving beyond loopback needs %s", addr, strings.Join(missing, ", "))
	}
	return nil
}
