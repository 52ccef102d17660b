// Command referee-image builds referee's container image from a static
// referee binary (release.Image) and pushes it to a tag, printing the
// pushed digest reference on stdout. release/pipeline.sh runs it as the
// "package" step.
//
//	go run ./release/cmd/referee-image --binary dist/referee --ca-bundle dist/ca-certificates.crt \
//	    --source-date-epoch "$(git log -1 --format=%ct)" --label org.opencontainers.image.version=v1.2.3 \
//	    ghcr.io/referee-dev/referee:v1.2.3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/referee-dev/referee/release"
)

type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }
func (l labels) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	l[k] = v
	return nil
}

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("referee-image", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: referee-image --binary FILE [--ca-bundle FILE] [--arch GOARCH] [--source-date-epoch SECONDS] [--digest-file FILE] [--label KEY=VALUE]... IMAGE:TAG")
		fs.PrintDefaults()
	}
	binary := fs.String("binary", "", "the static referee binary (CGO_ENABLED=0)")
	ca := fs.String("ca-bundle", "", "PEM bundle of certificate authorities to put at "+release.CAPath)
	arch := fs.String("arch", "amd64", "the binary's GOARCH")
	epoch := fs.Int64("source-date-epoch", 0, "the time the image records, in seconds since the epoch")
	digestFile := fs.String("digest-file", "", "also write the pushed digest reference to this FILE")
	ls := labels{}
	fs.Var(ls, "label", "an image label KEY=VALUE (repeatable)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *binary == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" && *epoch == 0 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "referee-image: SOURCE_DATE_EPOCH %q is not a number of seconds\n", s)
			return 2
		}
		*epoch = n
	}
	o, err := release.ReadOptions(*binary, *ca)
	if err != nil {
		fmt.Fprintln(os.Stderr, "referee-image:", err)
		return 2
	}
	o.Arch, o.Created, o.Labels = *arch, time.Unix(*epoch, 0), ls
	img, err := release.Image(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "referee-image:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ref, err := release.Push(ctx, img, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "referee-image:", err)
		return 2
	}
	if *digestFile != "" {
		if err := os.WriteFile(*digestFile, []byte(ref+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "referee-image:", err)
			return 2
		}
	}
	fmt.Println(ref)
	return 0
}
