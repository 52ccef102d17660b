package cli

import (
	"errors"
	"fmt"
	"log"
	"net"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/webhook"
)

func webhookCommand() *cli.Command {
	return &cli.Command{
		Name:  "webhook",
		Usage: "a Kubernetes admission webhook that refuses workloads whose images do not verify",
		Description: `Examples:
   referee webhook serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key
   referee webhook check-config policy.yaml`,
		Subcommands: []*cli.Command{webhookServeCommand(), webhookCheckConfigCommand()},
	}
}

func webhookServeCommand() *cli.Command {
	var (
		remote                option.Remote
		policy, cert, key     string
		kubeconfig            string
		addr                  string
		ttl, negativeTTL      time.Duration
		cacheSize             int
		tlsRequired, required = option.Check(func(c *cli.Context) error {
			if cert == "" || key == "" {
				return option.Usagef("--tls-cert and --tls-key are required: the apiserver calls webhooks over HTTPS only")
			}
			return nil
		}), option.Check(func(c *cli.Context) error { return requireFlag(c, policy, "policy") })
	)
	groups := []option.Group{required, tlsRequired, &remote}
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the validating webhook (/verify), /healthz, /readyz and /metrics over HTTPS",
		Description: `Every container image of a Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or
CronJob (and kubectl debug's ephemeral containers) must verify under the first policy of --policy
that matches it; an error denies too. Decisions are cached by digest, never by tag. The policy
file and the certificate are reloaded when they change; a broken new policy keeps the old one
and the log says why.

Registries are reached with the workload's own credentials: its imagePullSecrets and its service
account's, read from the apiserver (with --kubeconfig, or in a cluster with the webhook's service
account), then the webhook's own docker config (--registry-config). Without either, pull
secrets are not read, and the log says so.

Examples:
   referee webhook serve --policy /etc/referee/policy.yaml --tls-cert /tls/tls.crt --tls-key /tls/tls.key
   referee webhook serve --policy policy.yaml --tls-cert tls.crt --tls-key tls.key --addr 127.0.0.1:8443 --ttl 30m \
      --kubeconfig ~/.kube/config   # outside the cluster: read pull secrets as that user`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "policy", Usage: "the policy `FILE` (YAML; key files relative to it; required)", Destination: &policy},
			&cli.StringFlag{Name: "tls-cert", Usage: "serving certificate `FILE` (PEM; required)", Destination: &cert},
			&cli.StringFlag{Name: "tls-key", Usage: "its private key `FILE` (PEM; required)", Destination: &key},
			&cli.StringFlag{Name: "addr", Value: ":8443", Usage: "listen `ADDRESS`", Destination: &addr},
			&cli.DurationFlag{Name: "ttl", Value: webhook.DefaultTTL, Usage: "how long a verified digest is admitted without a registry call", Destination: &ttl},
			&cli.DurationFlag{Name: "negative-ttl", Value: webhook.DefaultNegativeTTL, Usage: "how long a digest that did not verify is refused without a registry call (registry errors are never remembered)", Destination: &negativeTTL},
			&cli.IntFlag{Name: "cache-size", Value: webhook.DefaultMaxEntries, Usage: "decisions kept at most", Destination: &cacheSize},
			&cli.StringFlag{Name: "kubeconfig", Usage: "read workloads' pull secrets and service accounts from the apiserver of this kubeconfig `FILE` (default: the in-cluster service account when KUBERNETES_SERVICE_HOST is set)", Destination: &kubeconfig},
		}, option.Flags(groups...)...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 0, 0, "no arguments"); err != nil {
				return err
			}
			p, err := webhook.LoadPolicy(policy)
			if err != nil {
				return err
			}
			logger := log.New(c.App.ErrWriter, "referee webhook: ", log.LstdFlags)
			o := webhook.DeciderOptions{OCI: remote.OCI(), TTL: ttl, NegativeTTL: negativeTTL, MaxEntries: cacheSize}
			kube, err := webhook.KubeClient(kubeconfig)
			switch {
			case errors.Is(err, webhook.ErrNoCluster):
				logger.Printf("not reading pull secrets: %v; registries are reached with the webhook's own credentials", err)
			case err != nil:
				return err
			default:
				o.RequestOCI = webhook.Credentials{Kube: kube, OCI: o.OCI}.RequestOCI
			}
			d := webhook.NewDecider(p, o)
			return webhook.Serve(c.Context, d, webhook.ServeOptions{Addr: addr, TLSCertFile: cert, TLSKeyFile: key, PolicyFile: policy, Logger: logger,
				Ready: func(a net.Addr) {
					logger.Printf("serving https://%s (policy %s, generation %s)", a, policy, p.Generation)
				}})
		}, groups...),
	}
}

func webhookCheckConfigCommand() *cli.Command {
	out := option.NewOutput(option.TextJSON...)
	return &cli.Command{
		Name:      "check-config",
		Usage:     "validate a webhook policy file and print its rules",
		ArgsUsage: "FILE",
		Description: `Reads the policy as referee webhook serve does (key files relative to it) and prints
each rule; exit 0 valid, 2 invalid (the message names the line).

Examples:
   referee webhook check-config policy.yaml
   referee webhook check-config --format json policy.yaml`,
		Flags: option.Flags(&out),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one policy FILE"); err != nil {
				return err
			}
			p, err := webhook.LoadPolicy(c.Args().First())
			if err != nil {
				return err
			}
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), policyJSON(p))
			}
			w := out.Stdout(c)
			for _, r := range p.Rules {
				fmt.Fprintf(w, "policy %s: images %s", termsafe.Quote(r.Name), termsafe.Quote(strings.Join(r.Images, ", ")))
				if len(r.Namespaces) > 0 {
					fmt.Fprintf(w, " in namespaces %s", termsafe.Quote(strings.Join(r.Namespaces, ", ")))
				}
				fmt.Fprintf(w, "; %s, %s", plural(len(r.LayoutKeys), "layout key"), plural(len(r.VSAKeys), "VSA key"))
				if r.RequireDigest {
					fmt.Fprint(w, "; digests only")
				}
				fmt.Fprintln(w)
			}
			unmatched := "deny"
			if p.AllowUnmatched {
				unmatched = "allow"
			}
			_, err = fmt.Fprintf(w, "unmatched: %s; excluded namespaces: %s; generation %s\n", unmatched, termsafe.Quote(strings.Join(p.ExcludeNamespaces, ", ")), p.Generation)
			return err
		}, &out),
	}
}

// policyJSON is check-config --format json.
func policyJSON(p *webhook.Policy) any {
	type ruleJSON struct {
		Name             string   `json:"name"`
		Images           []string `json:"images"`
		Namespaces       []string `json:"namespaces,omitempty"`
		LayoutKeys       []string `json:"layoutKeys,omitempty"`
		VSAKeys          []string `json:"vsaKeys,omitempty"`
		MinLayoutVersion int      `json:"minLayoutVersion,omitempty"`
		RequireDigest    bool     `json:"requireDigest,omitempty"`
		StaleIfError     string   `json:"staleIfError,omitempty"`
	}
	rules := make([]ruleJSON, 0, len(p.Rules))
	for _, r := range p.Rules {
		j := ruleJSON{Name: r.Name, Images: r.Images, Namespaces: r.Namespaces, MinLayoutVersion: r.MinLayoutVersion, RequireDigest: r.RequireDigest}
		for _, k := range r.LayoutKeys {
			j.LayoutKeys = append(j.LayoutKeys, k.KeyID)
		}
		for _, k := range r.VSAKeys {
			j.VSAKeys = append(j.VSAKeys, k.KeyID)
		}
		if r.StaleIfError > 0 {
			j.StaleIfError = r.StaleIfError.String()
		}
		rules = append(rules, j)
	}
	return map[string]any{"policies": rules, "allowUnmatched": p.AllowUnmatched, "excludeNamespaces": p.ExcludeNamespaces, "generation": p.Generation}
}
