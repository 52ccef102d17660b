package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
)

// attachFile is one FILE of attach, read and classified before the
// registry is asked anything.
type attachFile struct {
	name string
	data []byte
	kind string // "document" (layout or link), "statement" or "artifact"
}

func attachCommand() *cli.Command {
	var (
		remote   option.Remote
		out      = option.NewOutput(option.TextJSON...)
		step     string
		metadata string
		name     string
	)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "attach",
		Usage:     "attach layouts, links, attestations and the files they record to an image as OCI referrers",
		ArgsUsage: "IMAGE FILE...",
		Description: `Each FILE becomes a referrer of IMAGE's digest. IMAGE is resolved once. The digest of each
referrer is printed on stdout, one per line; attaching a file that is already attached prints
the existing referrer.

A signed layout or link (DSSE or Metablock, made by referee or the in-toto references) is
attached as evidence; a signed in-toto Statement as an attestation. Any other file is attached
as an artifact: a referrer whose one layer is the file, so its digest is the file's sha256, the
hash a link records; its path is FILE as given (a relative, normalised path) or --name.
Verification gives inspections the artifacts whose path and sha256 a verified link records
(e.g. a scan's vulnerability-report.json). A file that looks like a signed document but does
not parse as one is refused, never attached as an artifact.

Examples:
   referee attach localhost:5000/app:v1 root.layout build.3cedfa21.link
   referee attach localhost:5000/app:v1 vulnerability-report.json sbom.json
   referee attach --name reports/scan.json localhost:5000/app:v1 /tmp/scan.json
   docker buildx build --push -t localhost:5000/app:v1 --metadata-file meta.json .
   referee attach --metadata-file meta.json root.layout build.3cedfa21.link`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "step", Usage: "attach a layout as the sublayout standing for this `STEP`", Destination: &step},
			&cli.StringFlag{Name: "name", Usage: "the artifact's `PATH` as links record it (one FILE that is not a signed document)", Destination: &name},
			&cli.StringFlag{Name: "metadata-file", Usage: "attach to the image a 'docker buildx build --push --metadata-file `FILE`' pushed; then every argument is a FILE", Destination: &metadata}),
		Action: action(func(c *cli.Context) error {
			args := c.Args().Slice()
			image := ""
			if metadata != "" {
				var err error
				if image, err = oci.ImageFromBuildxMetadata(metadata); err != nil {
					return err
				}
			} else if len(args) > 0 {
				image, args = args[0], args[1:]
			}
			if image == "" || len(args) == 0 {
				return option.Usagef("%s takes IMAGE (or --metadata-file) and one or more FILEs", fullName(c))
			}
			if name != "" && len(args) != 1 {
				return option.Usagef("--name names one artifact: give one FILE")
			}
			files := make([]attachFile, len(args))
			for i, f := range args {
				af, err := readAttachFile(f, name)
				if err != nil {
					return err
				}
				if af.kind != "document" && step != "" {
					return option.Usagef("--step attaches a sublayout; %s is not a layout", f)
				}
				files[i] = af
			}
			t, err := openTarget(c, image, remote.OCI())
			if err != nil {
				return err
			}
			var res []attachedJSON
			for _, f := range files {
				var a attachedJSON
				switch f.kind {
				case "document":
					a, err = t.attachOne(out.Stderr(c), f.name, "", func() (oci.Attached, error) {
						return oci.Attach(c.Context, t.s, t.desc, f.data, oci.AttachOptions{Step: step})
					})
				case "statement":
					a, err = t.attachOne(out.Stderr(c), f.name, "attestation", func() (oci.Attached, error) {
						return oci.AttachStatement(c.Context, t.s, t.desc, f.data, oci.AttachStatementOptions{})
					})
				default:
					path := f.name
					if name != "" {
						path = name
					}
					a, err = t.attachOne(out.Stderr(c), f.name, "artifact", func() (oci.Attached, error) {
						return oci.AttachArtifact(c.Context, t.s, t.desc, path, f.data, oci.ArtifactOptions{})
					})
				}
				if err != nil {
					break
				}
				res = append(res, a)
			}
			if out.JSON() && len(res) > 0 {
				if werr := option.WriteJSON(out.Stdout(c), map[string]any{"image": t.ref.String(), "attached": res}); werr != nil {
					return werr
				}
			} else {
				for _, a := range res {
					if _, werr := fmt.Fprintln(out.Stdout(c), a.Referrer); werr != nil {
						return werr
					}
				}
			}
			return err
		}, groups...),
	}
}

// readAttachFile reads one FILE of attach and says what it is: a signed
// layout or link, a signed Statement, or (anything else) an artifact,
// whose path must be one a link can record unless --name gives it.
func readAttachFile(f, name string) (attachFile, error) {
	st, err := os.Stat(f)
	if err != nil {
		return attachFile{}, err
	}
	if st.IsDir() {
		return attachFile{}, fmt.Errorf("%s is a directory: attach its files", f)
	}
	if st.Size() > oci.DefaultMaxArtifactBytes {
		return attachFile{}, fmt.Errorf("%s is larger than %d MiB, the most referee attaches", f, oci.DefaultMaxArtifactBytes>>20)
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return attachFile{}, err
	}
	env, perr := attest.ParseEnvelope(data)
	if perr == nil {
		kind, err := env.PayloadKind()
		switch {
		case err != nil:
			return attachFile{}, fmt.Errorf("%s: %w", f, err)
		case kind == "layout" || kind == "link":
			return attachFile{f, data, "document"}, nil
		case kind == attest.StatementTypeV1 || kind == attest.StatementTypeV01:
			return attachFile{f, data, "statement"}, nil
		}
		return attachFile{}, fmt.Errorf("%s: a signed %q document, neither a layout, a link nor an in-toto Statement", f, kind)
	}
	if looksSigned(data) {
		return attachFile{}, fmt.Errorf("%s: %w", f, perr)
	}
	if block, _ := pem.Decode(data); block != nil {
		// A key (or certificate) is never an artifact: a private key
		// must not leave the machine by mistake.
		return attachFile{}, fmt.Errorf("%s: %w", f, perr)
	}
	if name == "" {
		if err := oci.CheckArtifactPath(f); err != nil {
			return attachFile{}, fmt.Errorf("%s: %w (give the path its link records with --name)", f, err)
		}
	}
	return attachFile{f, data, "artifact"}, nil
}

// looksSigned reports whether data is a JSON object with the fields of a
// DSSE envelope or a Metablock: such a file that does not parse is a
// damaged document, not an artifact.
func looksSigned(data []byte) bool {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(t, &m) != nil {
		return false
	}
	_, payloadType := m["payloadType"]
	_, signatures := m["signatures"]
	_, signed := m["signed"]
	return payloadType || signed || (signatures && len(m) <= 3)
}
