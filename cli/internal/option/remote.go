package option

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/oci"
)

// Remote is how a command reaches registries and what it accepts from
// them: every command that talks to a registry has all of these.
type Remote struct {
	PlainHTTP        bool
	CAFile           string
	RegistryConfig   string
	Timeout          time.Duration
	Deadline         time.Duration
	MaxManifestBytes int64
	MaxBlobBytes     int64
	// PerImage says that the command applies Deadline to each image
	// itself (batch verification) rather than to its whole run.
	PerImage bool
}

func (o *Remote) Flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "plain-http", Usage: "use plain HTTP for a registry that is not on a loopback address (loopback registries use it unless --ca-file is given)", Destination: &o.PlainHTTP},
		&cli.StringFlag{Name: "ca-file", Usage: "PEM `FILE` of extra certificate authorities for the registry's TLS", Destination: &o.CAFile},
		&cli.StringFlag{Name: "registry-config", Usage: "read registry credentials from this docker config.json `FILE` (default: docker's, $DOCKER_CONFIG/config.json or ~/.docker/config.json, with its credential helpers)", Destination: &o.RegistryConfig},
		&cli.DurationFlag{Name: "timeout", Value: oci.DefaultRequestTimeout, Usage: "give up on a registry that does not connect, complete TLS, answer a request's headers or send body data within this `DURATION`", Destination: &o.Timeout},
		&cli.DurationFlag{Name: "deadline", Value: DefaultDeadline, Usage: "give up on the whole registry work after this `DURATION` (per image with several images; 0: none)", Destination: &o.Deadline},
		&cli.Int64Flag{Name: "max-manifest-size", Value: oci.DefaultMaxManifestBytes, Usage: "refuse manifests larger than this many `BYTES`", Destination: &o.MaxManifestBytes},
		&cli.Int64Flag{Name: "max-blob-size", Value: oci.DefaultMaxBlobBytes, Usage: "refuse evidence blobs (envelopes; with copy and promote, every referrer blob) larger than this many `BYTES`", Destination: &o.MaxBlobBytes},
	}
}

func (o *Remote) Parse(*cli.Context) error {
	switch {
	case o.MaxManifestBytes <= 0:
		return Usagef("--max-manifest-size must be a positive number of bytes")
	case o.MaxBlobBytes <= 0:
		return Usagef("--max-blob-size must be a positive number of bytes")
	case o.Timeout <= 0:
		return Usagef("--timeout must be positive (e.g. 30s)")
	case o.Deadline < 0:
		return Usagef("--deadline must not be negative (0: none)")
	}
	return nil
}

// DefaultDeadline bounds one command's (or one image's) registry work: long
// enough for a large copy, short enough that a CI job never hangs.
const DefaultDeadline = 10 * time.Minute

// OCI returns the options of package oci.
func (o *Remote) OCI() oci.Options {
	return oci.Options{
		PlainHTTP:        o.PlainHTTP,
		CAFile:           o.CAFile,
		RegistryConfig:   o.RegistryConfig,
		Timeout:          o.Timeout,
		MaxManifestBytes: o.MaxManifestBytes,
		MaxBlobBytes:     o.MaxBlobBytes,
	}
}

// Discover returns the options of a referrer-graph walk.
func (o *Remote) Discover() oci.DiscoverOptions {
	return oci.DiscoverOptions{MaxManifestBytes: o.MaxManifestBytes, MaxBlobBytes: o.MaxBlobBytes}
}
