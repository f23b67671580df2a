package kubernetes_test

// Over 500 lines on purpose: a check per manifest and field the README promises, in one place with its fixtures.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The manifests are decoded the way the API server decodes them with
// strict field validation: YAML to JSON (duplicate keys are errors), then
// JSON into the k8s.io/api types, where an unknown field, a duplicate one
// or a field in the wrong case is an error. cert-manager's resources get
// local types holding only the fields used here, decoded the same way, so
// a misspelt or invented field fails there too.

type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string           `json:"secretName"`
		CommonName  string           `json:"commonName,omitempty"`
		DNSNames    []string         `json:"dnsNames,omitempty"`
		URIs        []string         `json:"uris,omitempty"`
		IsCA        bool             `json:"isCA,omitempty"`
		Duration    *metav1.Duration `json:"duration,omitempty"`
		RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`
		Usages      []string         `json:"usages,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm,omitempty"`
			Size           int    `json:"size,omitempty"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey,omitempty"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind,omitempty"`
			Group string `json:"group,omitempty"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

type issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SelfSigned *struct{} `json:"selfSigned,omitempty"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca,omitempty"`
	} `json:"spec"`
}

// kustomization holds the fields of kustomize.config.k8s.io/v1beta1 that
// the manifests use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
	Patches []struct {
		Path string `json:"path"`
	} `json:"patches,omitempty"`
}

// schema maps apiVersion/kind to the type a document decodes into.
var schema = map[string]func() any{
	"v1/Namespace":                   func() any { return new(corev1.Namespace) },
	"v1/ServiceAccount":              func() any { return new(corev1.ServiceAccount) },
	"v1/Service":                     func() any { return new(corev1.Service) },
	"v1/Secret":                      func() any { return new(corev1.Secret) },
	"v1/ConfigMap":                   func() any { return new(corev1.ConfigMap) },
	"apps/v1/DaemonSet":              func() any { return new(appsv1.DaemonSet) },
	"batch/v1/Job":                   func() any { return new(batchv1.Job) },
	"cert-manager.io/v1/Issuer":      func() any { return new(issuer) },
	"cert-manager.io/v1/Certificate": func() any { return new(certificate) },
}

// object is one decoded document.
type object struct {
	src  string // file#document, for messages
	kind string
	meta *metav1.ObjectMeta
	v    any
}

func (o *object) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.kind, o.meta.Namespace, o.meta.Name, o.src)
}

// problems collects every finding, so one run shows them all.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// strict decodes one YAML document into v as the API server's strict
// field validation would.
func strict(doc []byte, v any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(js, v)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return nil
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeDocs decodes every non-empty document of a YAML stream.
func decodeDocs(p *problems, name string, data []byte) []*object {
	var out []*object
	for i, doc := range docSep.Split(string(data), -1) {
		src := fmt.Sprintf("%s#%d", name, i+1)
		if empty(doc) {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			p.add("%s: not YAML: %v", src, err)
			continue
		}
		mk, ok := schema[head.APIVersion+"/"+head.Kind]
		if !ok {
			p.add("%s: no schema for apiVersion %q kind %q (add its type to the test's schema)", src, head.APIVersion, head.Kind)
			continue
		}
		v := mk()
		if err := strict([]byte(doc), v); err != nil {
			p.add("%s: %s: %v", src, head.Kind, err)
			continue
		}
		o := &object{src: src, kind: head.Kind, v: v, meta: metaOf(v)}
		if o.meta.Name == "" {
			p.add("%s: %s without metadata.name", src, head.Kind)
		}
		out = append(out, o)
	}
	return out
}

func empty(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func metaOf(v any) *metav1.ObjectMeta {
	switch x := v.(type) {
	case *corev1.Namespace:
		return &x.ObjectMeta
	case *corev1.ServiceAccount:
		return &x.ObjectMeta
	case *corev1.Service:
		return &x.ObjectMeta
	case *corev1.Secret:
		return &x.ObjectMeta
	case *corev1.ConfigMap:
		return &x.ObjectMeta
	case *appsv1.DaemonSet:
		return &x.ObjectMeta
	case *batchv1.Job:
		return &x.ObjectMeta
	case *issuer:
		return &x.ObjectMeta
	case *certificate:
		return &x.ObjectMeta
	}
	panic(fmt.Sprintf("metaOf(%T)", v))
}

// set is what a kustomization produces, before kustomize applies its
// patches and image overrides (without kubectl, the test cannot apply
// them; it checks them against their targets instead).
type set struct {
	objs    []*object
	patches []*object
	images  []string // kustomize image names to override
}

// load reads the kustomization in dir and, recursively, its bases.
func load(p *problems, dir string) *set {
	s := &set{}
	kfile := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(kfile)
	if err != nil {
		p.add("%s: %v", dir, err)
		return s
	}
	var k kustomization
	if err := strict(data, &k); err != nil {
		p.add("%s: %v", kfile, err)
		return s
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		p.add("%s: apiVersion %q kind %q, want kustomize.config.k8s.io/v1beta1 Kustomization", kfile, k.APIVersion, k.Kind)
	}
	listed := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		full := filepath.Join(dir, r)
		fi, err := os.Stat(full)
		switch {
		case err != nil:
			p.add("%s: resource %q: %v", kfile, r, err)
		case fi.IsDir():
			base := load(p, full)
			s.objs = append(s.objs, base.objs...)
			s.patches = append(s.patches, base.patches...)
			s.images = append(s.images, base.images...)
		default:
			listed[r] = true
			data, _ := os.ReadFile(full)
			s.objs = append(s.objs, decodeDocs(p, full, data)...)
		}
	}
	for _, pt := range k.Patches {
		full := filepath.Join(dir, pt.Path)
		data, err := os.ReadFile(full)
		if err != nil {
			p.add("%s: patch %q: %v", kfile, pt.Path, err)
			continue
		}
		listed[pt.Path] = true
		s.patches = append(s.patches, decodeDocs(p, full, data)...)
	}
	for _, im := range k.Images {
		s.images = append(s.images, im.Name)
	}
	// A manifest the kustomization forgets is never applied.
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			p.add("%s: %s is in the directory but not in resources or patches", kfile, filepath.Base(f))
		}
	}
	if k.Namespace != "" {
		for _, o := range s.objs {
			if o.kind != "Namespace" {
				o.meta.Namespace = k.Namespace
			}
		}
		for _, o := range s.patches {
			o.meta.Namespace = k.Namespace
		}
	}
	return s
}

// workload is an object with a pod template.
type workload struct {
	o    *object
	sel  *metav1.LabelSelector
	tmpl *corev1.PodTemplateSpec
}

func workloads(objs []*object) []workload {
	var out []workload
	for _, o := range objs {
		switch x := o.v.(type) {
		case *appsv1.DaemonSet:
			out = append(out, workload{o, x.Spec.Selector, &x.Spec.Template})
		case *batchv1.Job:
			out = append(out, workload{o, x.Spec.Selector, &x.Spec.Template})
		}
	}
	return out
}

func find[T any](objs []*object, ns, name string) (T, bool) {
	for _, o := range objs {
		if x, ok := o.v.(T); ok && o.meta.Namespace == ns && o.meta.Name == name {
			return x, true
		}
	}
	var zero T
	return zero, false
}

// check runs every cross-reference check on a complete set of objects.
func check(p *problems, objs []*object) {
	namespaces := map[string]bool{}
	for _, o := range objs {
		if o.kind == "Namespace" {
			namespaces[o.meta.Name] = true
		}
	}
	for _, o := range objs {
		if o.kind != "Namespace" && !namespaces[o.meta.Namespace] {
			p.add("%s: namespace %q is not among the manifests", o, o.meta.Namespace)
		}
	}
	ws := workloads(objs)
	for _, w := range ws {
		checkPod(p, objs, w)
	}
	for _, o := range objs {
		switch x := o.v.(type) {
		case *corev1.Service:
			checkService(p, ws, o, x)
		case *certificate:
			checkCertificate(p, objs, o, x)
		case *issuer:
			if x.Spec.CA != nil && !producesCA(objs, o.meta.Namespace, x.Spec.CA.SecretName) {
				p.add("%s: CA secret %q is made by no Certificate with isCA: true", o, x.Spec.CA.SecretName)
			}
			if (x.Spec.CA == nil) == (x.Spec.SelfSigned == nil) {
				p.add("%s: give exactly one of ca and selfSigned", o)
			}
		}
	}
	checkProcd(p, objs, ws)
}

func checkPod(p *problems, objs []*object, w workload) {
	// Long on purpose: one check per property of the campaign pod.
	o, spec := w.o, &w.tmpl.Spec
	switch {
	case w.sel == nil && o.kind == "DaemonSet":
		p.add("%s: no spec.selector", o)
	case w.sel != nil:
		sel, err := metav1.LabelSelectorAsSelector(w.sel)
		if err != nil {
			p.add("%s: selector: %v", o, err)
		} else if sel.Empty() || !sel.Matches(labels.Set(w.tmpl.Labels)) {
			p.add("%s: selector %q does not match its pod template's labels %v", o, sel, w.tmpl.Labels)
		}
	}
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" {
		if _, ok := find[*corev1.ServiceAccount](objs, o.meta.Namespace, sa); !ok {
			p.add("%s: serviceAccountName %q is not among the manifests", o, sa)
		}
	}
	vols := map[string]*corev1.Volume{}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if vols[v.Name] != nil {
			p.add("%s: volume %q defined twice", o, v.Name)
		}
		vols[v.Name] = v
		switch {
		case v.Secret != nil:
			if !producesSecret(objs, o.meta.Namespace, v.Secret.SecretName) {
				p.add("%s: volume %q: secret %q is made by no Certificate or Secret in %s", o, v.Name, v.Secret.SecretName, o.meta.Namespace)
			}
		case v.ConfigMap != nil:
			if _, ok := find[*corev1.ConfigMap](objs, o.meta.Namespace, v.ConfigMap.Name); !ok {
				p.add("%s: volume %q: config map %q is not among the manifests", o, v.Name, v.ConfigMap.Name)
			}
		}
	}
	used := map[string]bool{}
	ports := map[string]bool{}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, m := range c.VolumeMounts {
			used[m.Name] = true
			if vols[m.Name] == nil {
				p.add("%s: container %q mounts volume %q, which the pod does not define", o, c.Name, m.Name)
			}
		}
		for _, cp := range c.Ports {
			if cp.Name != "" && ports[cp.Name] {
				p.add("%s: port name %q used twice", o, cp.Name)
			}
			ports[cp.Name] = true
		}
		for kind, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
			if pr == nil {
				continue
			}
			var port *intstr.IntOrString
			switch {
			case pr.HTTPGet != nil:
				port = &pr.HTTPGet.Port
			case pr.TCPSocket != nil:
				port = &pr.TCPSocket.Port
			case pr.GRPC != nil:
				port = &intstr.IntOrString{IntVal: pr.GRPC.Port}
			case pr.Exec != nil:
				// An exec probe that dials a Unix socket needs the socket's
				// directory mounted.
				for _, a := range pr.Exec.Command {
					if _, sock, ok := strings.Cut(a, "unix://"); ok {
						if m, _ := mountFor(c, vols, sock); m == nil {
							p.add("%s: container %q: %s probe dials %s, which is on no volume mount", o, c.Name, kind, sock)
						}
					}
				}
			}
			if port != nil && !hasPort(c, *port) {
				p.add("%s: container %q: %s probe port %s is not a container port", o, c.Name, kind, port.String())
			}
		}
	}
	for name := range vols {
		if !used[name] {
			p.add("%s: volume %q is mounted by no container", o, name)
		}
	}
}

func hasPort(c corev1.Container, port intstr.IntOrString) bool {
	for _, cp := range c.Ports {
		if (port.Type == intstr.String && cp.Name == port.StrVal) || (port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

func checkService(p *problems, ws []workload, o *object, svc *corev1.Service) {
	if len(svc.Spec.Selector) == 0 {
		p.add("%s: no selector", o)
		return
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var matched []workload
	for _, w := range ws {
		if w.o.meta.Namespace == o.meta.Namespace && sel.Matches(labels.Set(w.tmpl.Labels)) {
			matched = append(matched, w)
		}
	}
	if len(matched) == 0 {
		p.add("%s: selector %q matches no pod template in namespace %s", o, sel, o.meta.Namespace)
	}
	for _, sp := range svc.Spec.Ports {
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		for _, w := range matched {
			found := false
			for _, c := range w.tmpl.Spec.Containers {
				found = found || hasPort(c, target)
			}
			if !found {
				p.add("%s: port %q targets %s, which no container of %s declares", o, sp.Name, target.String(), w.o)
			}
		}
	}
}

// cert-manager's accepted values for the fields checked.
var (
	certUsages = []string{"signing", "digital signature", "content commitment", "key encipherment", "key agreement",
		"data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth",
		"client auth", "code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel",
		"ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"}
	keyAlgorithms = []string{"RSA", "ECDSA", "Ed25519"}
)

func checkCertificate(p *problems, objs []*object, o *object, c *certificate) {
	s := &c.Spec
	if s.SecretName == "" {
		p.add("%s: no secretName", o)
	}
	for _, u := range s.Usages {
		if !slices.Contains(certUsages, u) {
			p.add("%s: usage %q is not one cert-manager knows", o, u)
		}
	}
	if k := s.PrivateKey; k != nil {
		if !slices.Contains(keyAlgorithms, k.Algorithm) {
			p.add("%s: privateKey.algorithm %q (want one of %v)", o, k.Algorithm, keyAlgorithms)
		}
		if k.RotationPolicy != "" && k.RotationPolicy != "Always" && k.RotationPolicy != "Never" {
			p.add("%s: privateKey.rotationPolicy %q (want Always or Never)", o, k.RotationPolicy)
		}
	}
	if s.Duration != nil && s.RenewBefore != nil && s.RenewBefore.Duration >= s.Duration.Duration {
		p.add("%s: renewBefore %v is not shorter than duration %v", o, s.RenewBefore.Duration, s.Duration.Duration)
	}
	ref := s.IssuerRef
	if ref.Group != "" && ref.Group != "cert-manager.io" {
		return // an external issuer: nothing to check here
	}
	switch ref.Kind {
	case "", "Issuer":
		if _, ok := find[*issuer](objs, o.meta.Namespace, ref.Name); !ok {
			p.add("%s: issuerRef names Issuer %q, which is not among the manifests in %s", o, ref.Name, o.meta.Namespace)
		}
	case "ClusterIssuer":
	default:
		p.add("%s: issuerRef.kind %q (want Issuer or ClusterIssuer)", o, ref.Kind)
	}
}

func producesSecret(objs []*object, ns, name string) bool {
	if _, ok := find[*corev1.Secret](objs, ns, name); ok {
		return true
	}
	return certFor(objs, ns, name) != nil
}

func producesCA(objs []*object, ns, secret string) bool {
	c := certFor(objs, ns, secret)
	return c != nil && c.Spec.IsCA
}

// certFor is the Certificate that writes secret.
func certFor(objs []*object, ns, secret string) *certificate {
	for _, o := range objs {
		if c, ok := o.v.(*certificate); ok && o.meta.Namespace == ns && c.Spec.SecretName == secret {
			return c
		}
	}
	return nil
}

// mountFor finds the volume mount (the deepest) holding file.
func mountFor(c corev1.Container, vols map[string]*corev1.Volume, file string) (*corev1.VolumeMount, *corev1.Volume) {
	var best *corev1.VolumeMount
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		if strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") && (best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = m
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, vols[best.Name]
}

// flags parses --name=value and --name value from a command line.
func flags(argv []string) map[string][]string {
	out := map[string][]string{}
	for i, a := range argv {
		if !strings.HasPrefix(a, "--") || a == "--" {
			continue
		}
		name, val, ok := strings.Cut(a[2:], "=")
		if !ok && i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
			val = argv[i+1]
		}
		out[name] = append(out[name], val)
	}
	return out
}

// procdContainer is a container running procd or procctl.
type procdContainer struct {
	w     workload
	c     corev1.Container
	vols  map[string]*corev1.Volume
	flags map[string][]string
}

func (pc procdContainer) String() string { return fmt.Sprintf("%s container %q", pc.w.o, pc.c.Name) }

// hostPath is where file lies on the node, if it is on a hostPath volume.
func (pc procdContainer) hostPath(file string) (string, bool) {
	m, v := mountFor(pc.c, pc.vols, file)
	if m == nil || v == nil || v.HostPath == nil {
		return "", false
	}
	return path.Join(v.HostPath.Path, strings.TrimPrefix(file, m.MountPath)), true
}

func (pc procdContainer) flag(name string) string {
	if v := pc.flags[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// procdContainers finds the daemons (a command line that runs procd) and
// their clients (procctl, or PROCD_SOCKET in the environment).
func procdContainers(ws []workload) (daemons, clients []procdContainer) {
	for _, w := range ws {
		vols := map[string]*corev1.Volume{}
		for i := range w.tmpl.Spec.Volumes {
			vols[w.tmpl.Spec.Volumes[i].Name] = &w.tmpl.Spec.Volumes[i]
		}
		for _, c := range w.tmpl.Spec.Containers {
			argv := slices.Concat(c.Command, c.Args)
			pc := procdContainer{w: w, c: c, vols: vols, flags: flags(argv)}
			for _, e := range c.Env {
				if e.Name == "PROCD_SOCKET" {
					pc.flags["socket"] = append([]string{e.Value}, pc.flags["socket"]...)
				}
			}
			switch {
			case slices.ContainsFunc(argv, func(a string) bool { return path.Base(a) == "procd" }):
				daemons = append(daemons, pc)
			case slices.ContainsFunc(argv, func(a string) bool { return path.Base(a) == "procctl" }) || pc.flag("socket") != "":
				clients = append(clients, pc)
			}
		}
	}
	return daemons, clients
}

// checkProcd checks what ties the daemon to its certificates, its Service
// and its clients: the files its flags name are on the right volumes, its
// ports are declared, the identities it maps to roles are certificates its
// CA issues, and every client pod reaches the same socket on the node with
// a uid or gid the daemon lets in.
func checkProcd(p *problems, objs []*object, ws []workload) {
	// Long on purpose: one check per property of the DaemonSet the README promises.
	daemons, clients := procdContainers(ws)
	hostSockets := map[string]procdContainer{}
	for _, d := range daemons {
		ns := d.w.o.meta.Namespace
		sock := d.flag("socket")
		if hp, ok := d.hostPath(sock); ok {
			hostSockets[hp] = d
		} else {
			p.add("%s: --socket %q is not on a hostPath volume, so no pod on the node can reach it", d, sock)
		}
		if m, _ := mountFor(d.c, d.vols, d.flag("state-dir")+"/"); m == nil || m.ReadOnly {
			p.add("%s: --state-dir %q is on no writable volume (the root filesystem is read-only)", d, d.flag("state-dir"))
		}
		// The socket's group must be one procd is in: it has no CAP_CHOWN.
		if g := d.flag("socket-group"); g != "" {
			gid, _ := strconv.ParseInt(g, 10, 64)
			sc := d.w.tmpl.Spec.SecurityContext
			in := sc != nil && (slices.Contains(sc.SupplementalGroups, gid) || (sc.RunAsGroup != nil && *sc.RunAsGroup == gid))
			if csc := d.c.SecurityContext; csc != nil && csc.RunAsGroup != nil && *csc.RunAsGroup == gid {
				in = true
			}
			if !in {
				p.add("%s: --socket-group %s is neither the pod's runAsGroup nor among its supplementalGroups; procd cannot give the socket to it", d, g)
			}
		}
		for flag, port := range map[string]string{"listen": "grpc", "metrics-addr": "metrics"} {
			addr := d.flag(flag)
			if addr == "" {
				continue
			}
			_, ps, err := net.SplitHostPort(addr)
			n, _ := strconv.Atoi(ps)
			if err != nil || !hasPort(d.c, intstr.FromInt32(int32(n))) || !hasPort(d.c, intstr.FromString(port)) {
				p.add("%s: --%s %q: its port is not the container port named %q", d, flag, addr, port)
			}
		}
		// TLS files: on a Secret volume that a Certificate writes, under
		// the key cert-manager gives them.
		var server *certificate
		for flag, key := range map[string]string{"tls-cert": "tls.crt", "tls-key": "tls.key", "client-ca": "ca.crt"} {
			file := d.flag(flag)
			if file == "" {
				p.add("%s: no --%s: the TCP port would not require client certificates", d, flag)
				continue
			}
			m, v := mountFor(d.c, d.vols, file)
			if m == nil || v == nil || v.Secret == nil {
				p.add("%s: --%s %q is on no Secret volume", d, flag, file)
				continue
			}
			if rel := strings.TrimPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/"); rel != key && len(v.Secret.Items) == 0 {
				p.add("%s: --%s %q: cert-manager writes %s, not %s", d, flag, file, key, rel)
			}
			c := certFor(objs, ns, v.Secret.SecretName)
			if c == nil {
				continue // reported by checkPod
			}
			if server != nil && server != c {
				p.add("%s: the TLS files come from different secrets", d)
			}
			server = c
		}
		if server == nil {
			continue
		}
		if !slices.Contains(server.Spec.Usages, "server auth") {
			p.add("%s: the server certificate %q lacks the usage \"server auth\"", d, server.Name)
		}
		// Every headless Service in front of the daemon: its DNS names, and
		// each pod's own name under it, must be in the certificate.
		for _, o := range objs {
			svc, ok := o.v.(*corev1.Service)
			if !ok || o.meta.Namespace != ns || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.w.tmpl.Labels)) {
				continue
			}
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				p.add("%s: not headless (clusterIP: None), so clients cannot find every node's daemon", o)
			}
			for _, name := range []string{svc.Name + "." + ns + ".svc", "*." + svc.Name + "." + ns + ".svc"} {
				if !slices.Contains(server.Spec.DNSNames, name) {
					p.add("%s: server certificate %q lacks the DNS name %q", d, server.Name, name)
				}
			}
			if sub := d.w.tmpl.Spec.Subdomain; sub != "" && sub != svc.Name {
				p.add("%s: subdomain %q is not the headless Service %q, so the pods get no DNS names", d, sub, svc.Name)
			}
		}
		// Role identities: each must be a client certificate from the CA
		// that signed the server's (its ca.crt is --client-ca).
		for _, role := range []string{"control-client", "read-client"} {
			for _, id := range d.flags[role] {
				if !issuedClient(objs, ns, server.Spec.IssuerRef.Name, id) {
					p.add("%s: --%s %q matches no client certificate issued by %q", d, role, id, server.Spec.IssuerRef.Name)
				}
			}
		}
	}
	for _, c := range clients {
		sock := c.flag("socket")
		hp, ok := c.hostPath(sock)
		if !ok {
			p.add("%s: socket %q is not on a hostPath volume, so it cannot reach the node's procd", c, sock)
			continue
		}
		d, ok := hostSockets[hp]
		if !ok {
			p.add("%s: socket %q is %s on the node, where no procd listens", c, sock, hp)
			continue
		}
		uid, gid := ids(c)
		allowed := uid == 0 || slices.Contains(d.flags["allow-uid"], strconv.FormatInt(uid, 10)) ||
			slices.Contains(d.flags["allow-gid"], strconv.FormatInt(gid, 10))
		if !allowed {
			p.add("%s: runs as uid %d gid %d, which %s does not allow (--allow-uid %v, --allow-gid %v)", c, uid, gid, d, d.flags["allow-uid"], d.flags["allow-gid"])
		}
	}
}

// ids is the uid and primary gid a container runs as (-1: unset; procd
// sees only the primary gid of a caller in another pod).
func ids(pc procdContainer) (uid, gid int64) {
	uid, gid = -1, -1
	if sc := pc.w.tmpl.Spec.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = *sc.RunAsGroup
		}
	}
	if sc := pc.c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = *sc.RunAsGroup
		}
	}
	return uid, gid
}

// issuedClient says whether a client certificate from issuerName carries
// the identity id (cn:NAME, dns:NAME or uri:URI).
func issuedClient(objs []*object, ns, issuerName, id string) bool {
	typ, val, _ := strings.Cut(id, ":")
	for _, o := range objs {
		c, ok := o.v.(*certificate)
		if !ok || o.meta.Namespace != ns || c.Spec.IssuerRef.Name != issuerName || !slices.Contains(c.Spec.Usages, "client auth") {
			continue
		}
		switch typ {
		case "cn":
			ok = c.Spec.CommonName == val
		case "dns":
			ok = slices.Contains(c.Spec.DNSNames, val)
		case "uri":
			ok = slices.Contains(c.Spec.URIs, val)
		default:
			ok = false
		}
		if ok {
			return true
		}
	}
	return false
}

// checkPatches checks that each patch names an object of the set and, for
// pod templates, containers it has.
func checkPatches(p *problems, s *set) {
	for _, pt := range s.patches {
		var target *object
		for _, o := range s.objs {
			if o.kind == pt.kind && o.meta.Name == pt.meta.Name && o.meta.Namespace == pt.meta.Namespace {
				target = o
			}
		}
		if target == nil {
			p.add("%s: patches an object that is not among the resources", pt)
			continue
		}
		pw, tw := workloads([]*object{pt}), workloads([]*object{target})
		if len(pw) == 1 && len(tw) == 1 {
			for _, c := range pw[0].tmpl.Spec.Containers {
				if !slices.ContainsFunc(tw[0].tmpl.Spec.Containers, func(t corev1.Container) bool { return t.Name == c.Name }) {
					p.add("%s: patches container %q, which %s does not have (the patch would add a container)", pt, c.Name, target)
				}
			}
		}
	}
	// An image override whose name matches no container does nothing.
	for _, name := range s.images {
		found := false
		for _, w := range workloads(s.objs) {
			for _, c := range slices.Concat(w.tmpl.Spec.InitContainers, w.tmpl.Spec.Containers) {
				found = found || c.Image == name || strings.HasPrefix(c.Image, name+":") || strings.HasPrefix(c.Image, name+"@")
			}
		}
		if !found {
			p.add("images: %q is the image of no container", name)
		}
	}
}

func report(t *testing.T, p problems) {
	t.Helper()
	for _, msg := range p {
		t.Error(msg)
	}
}

var kustomizations = []string{"base", "overlays/example"}

// TestManifests decodes every manifest of every kustomization strictly and
// checks the cross-references, on the files as they are (patches checked
// against their targets).
func TestManifests(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			var p problems
			s := load(&p, dir)
			if len(s.objs) == 0 {
				t.Fatalf("%s: no objects", dir)
			}
			check(&p, s.objs)
			checkPatches(&p, s)
			report(t, p)
		})
	}
}

// Every directory with a kustomization is one the tests check, and every
// manifest file belongs to a kustomization (load reports the rest).
func TestEveryKustomizationIsChecked(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "kustomization.yaml" && !slices.Contains(kustomizations, filepath.Dir(path)) {
			t.Errorf("%s is not in the test's kustomizations list", path)
		}
		if err == nil && d.IsDir() && path != "." {
			if _, e := os.Stat(filepath.Join(path, "kustomization.yaml")); e != nil && hasYAML(path) {
				t.Errorf("%s has manifests but no kustomization.yaml", path)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func hasYAML(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	return len(m) > 0
}

// TestKustomizeRender renders each kustomization with `kubectl kustomize`
// (when kubectl is installed) and checks the result as it would be
// applied: patches merged, images overridden, namespaces set.
func TestKustomizeRender(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed: the rendered overlay is not checked (the files are, by TestManifests)")
	}
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(kubectl, "kustomize", dir)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				if old := oldKustomize(kubectl); old != "" {
					t.Skipf("%s cannot render this kustomization (%s): %v: %s", kubectl, old, err, stderr.String())
				}
				t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
			}
			var p problems
			objs := decodeDocs(&p, "kubectl kustomize "+dir, stdout.Bytes())
			check(&p, objs)
			var files problems
			s := load(&files, dir)
			for _, name := range s.images {
				for _, w := range workloads(objs) {
					for _, c := range w.tmpl.Spec.Containers {
						if c.Image == name {
							p.add("%s: container %q still has image %q after the images override", w.o, c.Name, name)
						}
					}
				}
			}
			if len(objs) < len(s.objs) {
				p.add("rendered %d objects, the files hold %d", len(objs), len(s.objs))
			}
			report(t, p)
			t.Logf("rendered %d objects with %s", len(objs), kubectl)
		})
	}
}

// oldKustomize says why kubectl's built-in kustomize is too old for the
// kustomizations here ("" if it is not): before kubectl 1.21 it was
// kustomize v2, which takes neither directories in resources nor patches
// by path (Debian bookworm's kubernetes-client is 1.20).
func oldKustomize(kubectl string) string {
	out, err := exec.Command(kubectl, "version", "--client", "-o", "json").Output()
	if err != nil {
		return ""
	}
	var v struct {
		ClientVersion struct {
			Major, Minor string
		} `json:"clientVersion"`
	}
	if yaml.Unmarshal(out, &v) != nil {
		return ""
	}
	minor, _ := strconv.Atoi(strings.TrimRight(v.ClientVersion.Minor, "+"))
	if v.ClientVersion.Major == "1" && minor > 0 && minor < 21 {
		return fmt.Sprintf("kubectl 1.%d has kustomize v2, which predates resources directories and patches by path; kubectl 1.21 or later renders it", minor)
	}
	return ""
}
