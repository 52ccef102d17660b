package webhook_test

import (
	"fmt"
	"os"

	"github.com/referee-dev/referee/webhook"
)

// A policy's rules are tried in order; the first whose images (and
// namespaces, if it has any) match decides.
func ExampleParsePolicy() {
	dir, err := os.MkdirTemp("", "policy")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := writeExampleKey(dir, "owner"); err != nil {
		panic(err)
	}
	p, err := webhook.ParsePolicy([]byte(`
policies:
  - name: shop
    images: ["registry.example.com/shop/**"]
    namespaces: [shop, shop-*]
    layoutKeys: [owner.pub]
  - name: everything-else-of-ours
    images: ["registry.example.com/**"]
    layoutKeys: [owner.pub]
    requireDigest: true
unmatched: deny
exclude: {namespaces: [referee-system]}
`), dir)
	if err != nil {
		panic(err)
	}
	for _, q := range [][2]string{
		{"shop-eu", "registry.example.com/shop/cart"},
		{"tools", "registry.example.com/shop/cart"},
		{"tools", "index.docker.io/library/busybox"},
	} {
		if r, ok := p.Match(q[0], q[1]); ok {
			fmt.Printf("%s in %s: policy %s (line %d)\n", q[1], q[0], r.Name, r.Line)
		} else {
			fmt.Printf("%s in %s: no policy\n", q[1], q[0])
		}
	}
	fmt.Println("referee-system excluded:", p.Excluded("referee-system"))
	// Output:
	// registry.example.com/shop/cart in shop-eu: policy shop (line 3)
	// registry.example.com/shop/cart in tools: policy everything-else-of-ours (line 7)
	// index.docker.io/library/busybox in tools: no policy
	// referee-system excluded: true
}

// ImagesOf lists every container a request would run, and where it is.
func ExampleImagesOf() {
	data, err := os.ReadFile("testdata/cronjob.json")
	if err != nil {
		panic(err)
	}
	review, err := webhook.DecodeReview(data)
	if err != nil {
		panic(err)
	}
	images, err := webhook.ImagesOf(review)
	if err != nil {
		panic(err)
	}
	for _, im := range images {
		fmt.Println(im.Field, im.Reference)
	}
	// Output:
	// spec.jobTemplate.spec.template.spec.initContainers[0].image registry.example.com/shop/migrate:v1
	// spec.jobTemplate.spec.template.spec.containers[0].image registry.example.com/shop/app@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
	// spec.jobTemplate.spec.template.spec.containers[1].image registry.example.com/shop/proxy:v2
}
