package registry_test

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/referee-dev/referee/registry"
)

// Run a persistent registry on a free loopback port, push to it, stop it.
func Example() {
	root, err := os.MkdirTemp("", "registry-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)

	h, err := registry.New(registry.Options{Root: root})
	if err != nil {
		panic(err)
	}
	defer h.Close() // releases the lock on root
	ctx, stop := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- registry.Serve(ctx, "127.0.0.1:0", h, func(a net.Addr) { addrc <- a }) }()
	addr := (<-addrc).String()

	tag, err := name.NewTag(addr+"/demo/app:v1", name.Insecure)
	if err != nil {
		panic(err)
	}
	if err := remote.Write(tag, empty.Image); err != nil {
		panic(err)
	}
	tags, err := remote.List(tag.Context())
	if err != nil {
		panic(err)
	}
	fmt.Println(tags)

	stop()
	fmt.Println(<-done)
	// Output:
	// [v1]
	// <nil>
}
