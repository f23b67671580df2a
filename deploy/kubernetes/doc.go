// Package kubernetes holds procd's Kubernetes manifests (a kustomize base
// and an example overlay) and no Go code: its test decodes every manifest
// strictly into the Kubernetes API types and checks that the objects refer
// to each other correctly (labels and selectors, ports, volumes, secrets,
// certificates, the socket shared between the daemon and its clients).
package kubernetes
