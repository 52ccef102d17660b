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
)

func loginCommand() *cli.Command {
	var (
		remote        option.Remote
		out           = option.NewOutput()
		username      string
		passwordStdin bool
	)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "login",
		Usage:     "log in to a registry: check the credentials and store them in docker's config",
		ArgsUsage: "REGISTRY",
		Description: `Checks the credentials against REGISTRY (HOST[:PORT]) and stores them in docker's config.json
(--registry-config FILE, else $DOCKER_CONFIG/config.json or ~/.docker/config.json, or the
credential store that file names), where docker, crane, oras and every referee command read
them. A wrong password stores nothing. The password is read from stdin, never from a flag.

Examples:
   echo "$REGISTRY_TOKEN" | referee login registry.example.com -u ci --password-stdin
   referee login localhost:5000 -u alice --password-stdin --registry-config ./auth.json < password.txt
   referee attach registry.example.com/app:v1 root.layout --registry-config ./auth.json`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "user name (required)", Destination: &username},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password (or token) from stdin (required)", Destination: &passwordStdin},
		),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one REGISTRY (HOST[:PORT])"); err != nil {
				return err
			}
			if err := requireFlag(c, username, "username"); err != nil {
				return err
			}
			if !passwordStdin {
				return option.Usagef("--password-stdin is required: the password is read from stdin, never from the command line")
			}
			host := c.Args().First()
			if err := checkRegistryName(host); err != nil {
				return err
			}
			password, err := readPassword(c.App.Reader)
			if err != nil {
				return err
			}
			if err := oci.Login(c.Context, host, username, password, remote.OCI()); err != nil {
				return err
			}
			fmt.Fprintf(out.Stderr(c), "logged in to %s as %s\n", host, username)
			return nil
		}, groups...),
	}
}

// checkRegistryName refuses a repository or URL where a registry is meant:
// credentials are stored per registry.
func checkRegistryName(host string) error {
	if strings.Contains(host, "://") {
		return option.Usagef("%q: give the registry as HOST[:PORT], without a scheme (TLS is used unless it is on loopback or --plain-http)", host)
	}
	if strings.Contains(host, "/") {
		return option.Usagef("%q: give the registry as HOST[:PORT]; credentials are stored per registry, not per repository", host)
	}
	return nil
}

// readPassword reads one line from stdin.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	p := strings.TrimRight(line, "\r\n")
	if p == "" {
		return "", option.Usagef("no password on stdin")
	}
	return p, nil
}

func logoutCommand() *cli.Command {
	var (
		remote option.Remote
		out    = option.NewOutput()
	)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "logout",
		Usage:     "remove a registry's stored credentials",
		ArgsUsage: "REGISTRY",
		Description: `Removes what referee login (or docker login) stored for REGISTRY.

Example:
   referee logout registry.example.com`,
		Flags: option.Flags(groups...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one REGISTRY (HOST[:PORT])"); err != nil {
				return err
			}
			host := c.Args().First()
			if err := checkRegistryName(host); err != nil {
				return err
			}
			if err := oci.Logout(c.Context, host, remote.OCI()); err != nil {
				return err
			}
			fmt.Fprintf(out.Stderr(c), "logged out of %s\n", host)
			return nil
		}, groups...),
	}
}
