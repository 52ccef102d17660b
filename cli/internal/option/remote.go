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
	MaxManifestBytes int64
	MaxBlobBytes     int64
}

func (o *Remote) Flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "plain-http", Usage: "use plain HTTP for a registry that is not on a loopback address (loopback registries use it unless --ca-file is given)", Destination: &o.PlainHTTP},
		&cli.StringFlag{Name: "ca-file", Usage: "PEM `FILE` of extra certificate authorities for the registry's TLS", Destination: &o.CAFile},
		&cli.StringFlag{Name: "registry-config", Usage: "read registry credentials from this docker config.json `FILE` (default: docker's, $DOCKER_CONFIG/config.json or ~/.docker/config.json, with its credential helpers)", Destination: &o.RegistryConfig},
		&cli.DurationFlag{Name: "timeout", Value: oci.DefaultRequestTimeout, Usage: "give up on a registry that does not connect, complete TLS or answer a request's headers within this `DURATION`", Destination: &o.Timeout},
		&cli.Int64Flag{Name: "max-manifest-size", Value: oci.DefaultMaxManifestBytes, Usage: "refuse manifests larger than this many `BYTES`", Destination: &o.MaxManifestBytes},
		&cli.Int64Flag{Name: "max-blob-size", Value: oci.DefaultMaxBlobBytes, Usage: "refuse evidence blobs (envelopes) larger than this many `BYTES`", Destination: &o.MaxBlobBytes},
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
	}
	return nil
}

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
