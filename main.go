// Command referee stores in-toto supply-chain evidence in OCI registries and
// verifies it. The command line is package cli; this file only runs it.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/referee-dev/referee/cli"
	"github.com/referee-dev/referee/internal/gcpace"
)

func main() {
	gcpace.Start()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
