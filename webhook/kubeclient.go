package webhook

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeReader is what Credentials reads from the apiserver: a Secret and a
// ServiceAccount by name (the verb get, nothing else). A missing object
// is an error for which k8s.io/apimachinery's errors.IsNotFound is true.
type KubeReader interface {
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
}

// ErrNoCluster is KubeClient's error when it has neither a kubeconfig
// nor the service account of a Pod to reach the apiserver with.
var ErrNoCluster = errors.New("no kubeconfig, and not in a cluster (KUBERNETES_SERVICE_HOST is not set)")

// KubeClient connects to the apiserver with the kubeconfig file, or, when
// kubeconfig is empty, with the Pod's service account (client-go's
// in-cluster config; ErrNoCluster outside a cluster).
//
// It is client-go's REST client for the core/v1 API alone: client-go's
// typed clientset would link every API group's types into the binary.
func KubeClient(kubeconfig string) (KubeReader, error) {
	var (
		cfg *rest.Config
		err error
	)
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
	} else {
		cfg, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, ErrNoCluster
		} else if err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.APIPath = "/api"
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	cfg.UserAgent = "referee-webhook"
	// A cache miss reads a few objects; client-go's default of 5 a
	// second would queue a burst of new workloads behind each other. The
	// apiserver's priority and fairness protects it.
	cfg.QPS, cfg.Burst = 50, 100
	c, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("apiserver %s: %w", cfg.Host, err)
	}
	return kubeClient{c}, nil
}

type kubeClient struct{ rest *rest.RESTClient }

func (k kubeClient) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := k.rest.Get().Namespace(namespace).Resource("secrets").Name(name).Do(ctx).Into(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (k kubeClient) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	var sa corev1.ServiceAccount
	if err := k.rest.Get().Namespace(namespace).Resource("serviceaccounts").Name(name).Do(ctx).Into(&sa); err != nil {
		return nil, err
	}
	return &sa, nil
}
