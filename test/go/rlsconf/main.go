// Command rlsconf decodes RateLimitConfig bytes (base64, one resource per stdin line) with the
// generated Go types of envoyproxy/ratelimit's own proto (go-control-plane/ratelimit, the version the
// pinned reference module requires), and prints, per resource, the fields the reference knows
// (protojson, original proto names) and the numbers of the fields it does not know, by message path.
// Test-only: it stands in for the reference as an xDS consumer of Banyan's resources.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	rlsconf "github.com/envoyproxy/go-control-plane/ratelimit/config/ratelimit/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

type unknownField struct {
	Path   string `json:"path"`
	Number int32  `json:"number"`
	// Varint is the value of a varint field (bools, enums); nil for other wire types.
	Varint *uint64 `json:"varint,omitempty"`
}

func unknowns(m protoreflect.Message, path string, out *[]unknownField) {
	b := m.GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		f := unknownField{Path: path, Number: int32(num)}
		if typ == protowire.VarintType {
			v, _ := protowire.ConsumeVarint(b)
			f.Varint = &v
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			break
		}
		b = b[m:]
		*out = append(*out, f)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			for i := 0; i < v.List().Len(); i++ {
				unknowns(v.List().Get(i).Message(), fmt.Sprintf("%s.%s[%d]", path, fd.Name(), i), out)
			}
		} else {
			unknowns(v.Message(), fmt.Sprintf("%s.%s", path, fd.Name()), out)
		}
		return true
	})
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		raw, err := base64.StdEncoding.DecodeString(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var c rlsconf.RateLimitConfig
		if err := proto.Unmarshal(raw, &c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		known, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&c)
		var u []unknownField
		unknowns(c.ProtoReflect(), "", &u)
		_ = enc.Encode(map[string]any{"known": json.RawMessage(known), "unknown": u})
	}
}
