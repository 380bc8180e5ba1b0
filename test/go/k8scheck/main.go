// k8scheck decodes every YAML document of the Kubernetes manifests it is given against its kind's Go
// type from k8s.io/api, strictly: an unknown or duplicate field, a wrong type or an unknown kind fails.
// It also checks what the API server would refuse at once and a type cannot say: metadata.name is a
// DNS-1123 subdomain, a workload's selector matches its pod template's labels, container port names
// are IANA service names. CRDs have no Go type here; a ServiceMonitor (monitoring.coreos.com/v1) is
// decoded, just as strictly, against the subset of the Prometheus Operator's schema the chart uses.
//
// Usage: k8scheck FILE...   (prints a JSON report; exit 1 when any document fails)
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ServiceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the chart writes, field for
// field as the Prometheus Operator's CRD spells it; anything else is an unknown field here.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string     `json:"port,omitempty"`
			Path          string     `json:"path,omitempty"`
			Scheme        string     `json:"scheme,omitempty"`
			Interval      string     `json:"interval,omitempty"`
			ScrapeTimeout string     `json:"scrapeTimeout,omitempty"`
			TLSConfig     *TLSConfig `json:"tlsConfig,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type SecretOrConfigMap struct {
	Secret    *corev1.SecretKeySelector    `json:"secret,omitempty"`
	ConfigMap *corev1.ConfigMapKeySelector `json:"configMap,omitempty"`
}

type TLSConfig struct {
	ServerName         string                    `json:"serverName,omitempty"`
	CA                 *SecretOrConfigMap        `json:"ca,omitempty"`
	Cert               *SecretOrConfigMap        `json:"cert,omitempty"`
	KeySecret          *corev1.SecretKeySelector `json:"keySecret,omitempty"`
	InsecureSkipVerify *bool                     `json:"insecureSkipVerify,omitempty"`
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
		batchv1.AddToScheme, rbacv1.AddToScheme, autoscalingv2.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

type Doc struct {
	File    string   `json:"file"`
	Index   int      `json:"index"`
	Line    int      `json:"line"`
	Kind    string   `json:"kind,omitempty"`
	Name    string   `json:"name,omitempty"`
	Decoder string   `json:"decoder,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

type Report struct {
	Documents []Doc `json:"documents"`
	Failed    int   `json:"failed"`
}

var separator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// splitDocs splits a YAML stream at `---` lines, keeping each document's first line number.
func splitDocs(text string) (docs []string, lines []int) {
	offsets := separator.FindAllStringIndex(text, -1)
	start, line := 0, 1
	for _, o := range append(offsets, []int{len(text), len(text)}) {
		docs = append(docs, text[start:o[0]])
		lines = append(lines, line)
		line += strings.Count(text[start:o[1]], "\n")
		start = o[1]
	}
	return docs, lines
}

func empty(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

func check(s *runtime.Scheme, doc []byte) (kind, name, decoder string, errs []string) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return "", "", "", []string{fmt.Sprintf("not YAML: %v", err)}
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return tm.Kind, "", "", []string{"apiVersion and kind are required"}
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return tm.Kind, "", "", []string{err.Error()}
	}
	gvk := gv.WithKind(tm.Kind)
	var obj any
	if gvk == (schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}) {
		obj = &ServiceMonitor{}
		decoder = "minimal ServiceMonitor struct (CRD: no Go type in k8s.io/api)"
	} else {
		o, err := s.New(gvk)
		if err != nil {
			return tm.Kind, "", "", []string{fmt.Sprintf("no Kubernetes API type for %s (unknown kind or apiVersion)", gvk)}
		}
		obj = o
		t := reflect.TypeOf(o).Elem()
		decoder = t.PkgPath() + "." + t.Name()
	}
	// YAML to JSON refusing duplicate keys, then the API machinery's own strict JSON decoding (as the
	// API server's fieldValidation=Strict): every unknown or duplicate field, named by its path.
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return tm.Kind, "", decoder, []string{fmt.Sprintf("strict decoding: %v", err)}
	}
	strictErrs, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return tm.Kind, "", decoder, []string{fmt.Sprintf("strict decoding: %v", err)}
	}
	for _, e := range strictErrs {
		errs = append(errs, fmt.Sprintf("strict decoding: %v", e))
	}
	if len(errs) > 0 {
		return tm.Kind, "", decoder, errs
	}
	meta, _ := obj.(metav1.Object)
	if meta != nil {
		name = meta.GetName()
		for _, m := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, fmt.Sprintf("metadata.name %q: %s", name, m))
		}
	}
	selectorMatches := func(sel *metav1.LabelSelector, tmpl corev1.PodTemplateSpec) {
		if sel == nil {
			errs = append(errs, "spec.selector is required")
			return
		}
		ls, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			errs = append(errs, fmt.Sprintf("spec.selector: %v", err))
		} else if ls.Empty() || !ls.Matches(labels.Set(tmpl.Labels)) {
			errs = append(errs, "spec.selector does not match spec.template.metadata.labels")
		}
		checkPod(&tmpl.Spec, &errs)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		selectorMatches(o.Spec.Selector, o.Spec.Template)
	case *appsv1.StatefulSet:
		selectorMatches(o.Spec.Selector, o.Spec.Template)
	case *appsv1.DaemonSet:
		selectorMatches(o.Spec.Selector, o.Spec.Template)
	case *corev1.Pod:
		checkPod(&o.Spec, &errs)
	case *corev1.Service:
		for _, p := range o.Spec.Ports {
			if p.Port == 0 {
				errs = append(errs, fmt.Sprintf("service port %q: port is required", p.Name))
			}
		}
	}
	return tm.Kind, name, decoder, errs
}

func checkPod(spec *corev1.PodSpec, errs *[]string) {
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Image == "" {
			*errs = append(*errs, fmt.Sprintf("container %q: image is required", c.Name))
		}
		for _, p := range c.Ports {
			if p.Name == "" {
				continue
			}
			for _, m := range validation.IsValidPortName(p.Name) {
				*errs = append(*errs, fmt.Sprintf("container %q port %q: %s", c.Name, p.Name, m))
			}
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				*errs = append(*errs, fmt.Sprintf("container %q mounts volume %q, which the pod does not define", c.Name, m.Name))
			}
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8scheck FILE...")
		os.Exit(2)
	}
	s := scheme()
	report := Report{Documents: []Doc{}}
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			report.Documents = append(report.Documents, Doc{File: file, Errors: []string{err.Error()}})
			report.Failed++
			continue
		}
		docs, lines := splitDocs(string(data))
		for i, doc := range docs {
			if empty(doc) {
				continue
			}
			kind, name, decoder, errs := check(s, []byte(doc))
			d := Doc{File: file, Index: i, Line: lines[i], Kind: kind, Name: name, Decoder: decoder, Errors: errs}
			if len(errs) > 0 {
				report.Failed++
			}
			report.Documents = append(report.Documents, d)
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	_ = enc.Encode(report)
	os.Stdout.Write(out.Bytes())
	if report.Failed > 0 {
		os.Exit(1)
	}
}
