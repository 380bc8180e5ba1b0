// Command oracle validates Envoy xDS resources with go-control-plane's protoc-gen-validate code
// (ValidateAll), as an independent check on what Banyan compiles.
//
// Input (stdin), one JSON object per line:
//
//	{"id": "...", "type_url": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "value": "<base64 protobuf>"}
//	{"id": "...", "type_url": "...", "json": {...proto3 JSON...}}
//
// Output (stdout), one JSON line per input line, in input order:
//
//	{"id": "...", "ok": true, "violations": [{"path": "...", "reason": "..."}], "unknown_fields": [...], "error": "..."}
//
// ValidateAll does not look inside google.protobuf.Any, so the oracle walks every message itself,
// unpacks each Any it finds (singular, repeated, map value) with the global registry, validates the
// unpacked message too and walks into it. Violation paths use proto field names; an Any's content
// is written as `field(ShortTypeName).inner_field`. Violations are sorted by path, then reason.
// unknown_fields lists messages holding fields these protos do not know (Banyan wrote something the
// validator never saw).
//
// Version: go-control-plane/envoy v1.32.4, the oldest release of the envoy submodule, because it is
// the closest to the Envoy API tree Banyan encodes with (@grpc/grpc-js-xds 1.14.1's deps/envoy-api,
// about Envoy 1.31): the planted corpus is built from that tree's annotations, and newer releases
// dropped some of them (v1.40.0 no longer has TokenBucket.max_tokens gt 0, Rds.config_source
// required, ExtAuthzPerRoute.disabled const true, nor QuicProtocolOptions.idle_network_timeout <= 600s).
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	// Every Envoy message type Banyan emits, directly or inside an Any, so the registry resolves them.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/random/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/ring_hash/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/request_id/uuid/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/fixed_heap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
)

type request struct {
	ID      string          `json:"id"`
	TypeURL string          `json:"type_url"`
	Value   *string         `json:"value"`
	JSON    json.RawMessage `json:"json"`
}

type violation struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

type response struct {
	ID            string      `json:"id"`
	OK            bool        `json:"ok"`
	Violations    []violation `json:"violations"`
	UnknownFields []string    `json:"unknown_fields,omitempty"`
	Error         string      `json:"error,omitempty"`
}

// The interfaces of protoc-gen-validate's generated Go code.
type validatorAll interface{ ValidateAll() error }
type multiError interface{ AllErrors() []error }
type validationError interface {
	Field() string
	Reason() string
	Cause() error
	Key() bool
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		// Flush before blocking on input, so a client that streams requests sees its answers.
		if in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				fatal(err)
			}
		}
		line, err := in.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			if e := enc.Encode(handle(line)); e != nil {
				fatal(e)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fatal(err)
		}
	}
	if err := out.Flush(); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "oracle:", err)
	os.Exit(1)
}

func handle(line []byte) response {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return response{Violations: []violation{}, Error: "bad request line: " + err.Error()}
	}
	res := response{ID: req.ID, Violations: []violation{}}
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(req.TypeURL)
	if err != nil {
		res.Error = fmt.Sprintf("unknown type %q: %v", req.TypeURL, err)
		return res
	}
	msg := mt.New().Interface()
	switch {
	case req.Value != nil && req.JSON != nil:
		res.Error = `give either "value" or "json", not both`
		return res
	case req.Value != nil:
		raw, err := base64.StdEncoding.DecodeString(*req.Value)
		if err != nil {
			res.Error = "value is not base64: " + err.Error()
			return res
		}
		if err := proto.Unmarshal(raw, msg); err != nil {
			res.Error = "cannot decode " + req.TypeURL + ": " + err.Error()
			return res
		}
	case req.JSON != nil:
		if err := (protojson.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(req.JSON, msg); err != nil {
			res.Error = "cannot parse json " + req.TypeURL + ": " + err.Error()
			return res
		}
	default:
		res.Error = `missing "value" (or "json")`
		return res
	}

	c := &collector{}
	c.validate(msg, "")
	c.walk(msg.ProtoReflect(), "")
	sort.Slice(c.violations, func(i, j int) bool {
		a, b := c.violations[i], c.violations[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Reason < b.Reason
	})
	sort.Strings(c.unknown)
	sort.Strings(c.errors)
	if c.violations != nil {
		res.Violations = c.violations
	}
	res.UnknownFields = c.unknown
	res.Error = strings.Join(c.errors, "; ")
	res.OK = len(res.Violations) == 0 && res.Error == ""
	return res
}

type collector struct {
	violations []violation
	unknown    []string
	errors     []string
}

func join(prefix, segment string) string {
	if prefix == "" {
		return segment
	}
	return prefix + "." + segment
}

// validate runs msg's ValidateAll and records its violations under prefix.
func (c *collector) validate(msg proto.Message, prefix string) {
	v, ok := msg.(validatorAll)
	if !ok {
		// Well-known types and the few messages without generated validators.
		return
	}
	c.flatten(v.ValidateAll(), msg.ProtoReflect().Descriptor(), prefix)
}

// flatten records the leaves of a ValidateAll error: a multi-error is split into its errors, and an
// "embedded message failed validation" error is followed through its cause to the innermost field.
func (c *collector) flatten(err error, desc protoreflect.MessageDescriptor, prefix string) {
	if err == nil {
		return
	}
	if m, ok := err.(multiError); ok {
		for _, e := range m.AllErrors() {
			c.flatten(e, desc, prefix)
		}
		return
	}
	var ve validationError
	if !errors.As(err, &ve) {
		c.violations = append(c.violations, violation{Path: prefix, Reason: err.Error()})
		return
	}
	segment, next := protoSegment(desc, ve.Field())
	path := join(prefix, segment)
	cause := ve.Cause()
	if cause != nil {
		var inner validationError
		_, isMulti := cause.(multiError)
		if isMulti || errors.As(cause, &inner) {
			c.flatten(cause, next, path)
			return
		}
		// A leaf whose cause is not a validation error (e.g. an invalid Duration): keep both texts.
		c.violations = append(c.violations, violation{Path: path, Reason: ve.Reason() + ": " + cause.Error()})
		return
	}
	c.violations = append(c.violations, violation{Path: path, Reason: ve.Reason()})
}

// protoSegment turns a generated validator's field name ("FilterChains[0]", "Metadata[key]",
// "ClusterDiscoveryType") into proto spelling ("filter_chains[0]", ...), and returns the message
// descriptor that the field's own errors are named against (nil when unknown).
func protoSegment(desc protoreflect.MessageDescriptor, field string) (string, protoreflect.MessageDescriptor) {
	name, index := field, ""
	if i := strings.IndexByte(field, '['); i >= 0 {
		name, index = field[:i], field[i:]
	}
	if desc == nil {
		return field, nil
	}
	f, ok := goFields(desc)[name]
	if !ok {
		return field, nil
	}
	return f.protoName + index, f.next
}

type goField struct {
	protoName string
	next      protoreflect.MessageDescriptor
}

var goFieldCache = map[protoreflect.FullName]map[string]goField{}

// goFields maps the Go struct field names of desc's generated type (which the validators use) to
// proto field and oneof names, read from the struct tags protoc-gen-go writes.
func goFields(desc protoreflect.MessageDescriptor) map[string]goField {
	if m, ok := goFieldCache[desc.FullName()]; ok {
		return m
	}
	m := map[string]goField{}
	goFieldCache[desc.FullName()] = m
	mt, err := protoregistry.GlobalTypes.FindMessageByName(desc.FullName())
	if err != nil {
		return m
	}
	t := reflect.TypeOf(mt.Zero().Interface())
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return m
	}
	t = t.Elem()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if oneof := sf.Tag.Get("protobuf_oneof"); oneof != "" {
			m[sf.Name] = goField{protoName: oneof}
			continue
		}
		for _, part := range strings.Split(sf.Tag.Get("protobuf"), ",") {
			if proto, ok := strings.CutPrefix(part, "name="); ok {
				m[sf.Name] = goField{protoName: proto, next: messageOf(desc.Fields().ByName(protoreflect.Name(proto)))}
			}
		}
	}
	// A field inside a oneof is the only field of its generated wrapper type (e.g. Cluster_Type),
	// which the message's oneof interface field holds once the field is set.
	fields := desc.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.ContainingOneof() == nil || fd.ContainingOneof().IsSynthetic() {
			continue
		}
		msg := mt.New()
		msg.Set(fd, msg.NewField(fd))
		rv := reflect.ValueOf(msg.Interface()).Elem()
		for j := 0; j < t.NumField(); j++ {
			if t.Field(j).Tag.Get("protobuf_oneof") != string(fd.ContainingOneof().Name()) {
				continue
			}
			w := rv.Field(j).Elem() // *Wrapper
			if w.Kind() == reflect.Pointer && w.Elem().Kind() == reflect.Struct && w.Elem().NumField() == 1 {
				m[w.Elem().Type().Field(0).Name] = goField{protoName: string(fd.Name()), next: messageOf(fd)}
			}
		}
	}
	return m
}

func messageOf(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	if fd == nil {
		return nil
	}
	if fd.IsMap() {
		return fd.MapValue().Message()
	}
	return fd.Message()
}

// walk visits every populated field of m below prefix: records unknown fields, and validates and
// walks into the content of every google.protobuf.Any.
func (c *collector) walk(m protoreflect.Message, prefix string) {
	if len(m.GetUnknown()) > 0 {
		c.unknown = append(c.unknown, prefixOr(prefix, "(root)")+": "+string(m.Descriptor().FullName()))
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				return true
			}
			type entry struct {
				key string
				val protoreflect.Value
			}
			var entries []entry
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				entries = append(entries, entry{k.String(), mv})
				return true
			})
			sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
			for _, e := range entries {
				c.visit(e.val.Message(), join(prefix, fmt.Sprintf("%s[%s]", name, e.key)))
			}
		case fd.IsList():
			if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
				return true
			}
			list := v.List()
			for i := 0; i < list.Len(); i++ {
				c.visit(list.Get(i).Message(), join(prefix, fmt.Sprintf("%s[%d]", name, i)))
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			c.visit(v.Message(), join(prefix, name))
		}
		return true
	})
}

func prefixOr(prefix, fallback string) string {
	if prefix == "" {
		return fallback
	}
	return prefix
}

func (c *collector) visit(m protoreflect.Message, path string) {
	if m.Descriptor().FullName() != "google.protobuf.Any" {
		c.walk(m, path)
		return
	}
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		c.errors = append(c.errors, path+": Any of unexpected Go type")
		return
	}
	inner, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
	if err != nil {
		c.errors = append(c.errors, fmt.Sprintf("%s: cannot unpack Any %q: %v", path, a.GetTypeUrl(), err))
		return
	}
	innerPath := fmt.Sprintf("%s(%s)", path, inner.ProtoReflect().Descriptor().Name())
	c.validate(inner, innerPath)
	c.walk(inner.ProtoReflect(), innerPath)
}
