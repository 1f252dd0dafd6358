package problem

import (
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// ParseDetail describes why client input did not decode, in terms of the
// input rather than of the Go program reading it. The decoders' own
// messages name Go types and struct fields (`cannot unmarshal array into
// Go value of type httpapi.signRequest`, an ASN.1 error quoting a parser's
// struct tags), which are internal detail: a JSON type error becomes the
// field's JSON path and the JSON kinds expected and found, any DER error
// becomes "malformed DER", and any other error's message is passed on
// (JSON syntax, base64, and the x509 and RFC 3161 parsers' messages name
// only the input). The caller should keep err as the logged cause.
func ParseDetail(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	var structural asn1.StructuralError
	var asn1Syntax asn1.SyntaxError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typeErr):
		want := jsonKind(typeErr.Type)
		if typeErr.Field == "" {
			return fmt.Sprintf("expected a JSON %s, got %s", want, typeErr.Value)
		}
		return fmt.Sprintf("field %q: expected a JSON %s, got %s", Truncate(typeErr.Field), want, typeErr.Value)
	case errors.As(err, &b64):
		return b64.Error()
	case errors.As(err, &structural), errors.As(err, &asn1Syntax), strings.HasPrefix(err.Error(), "asn1: "):
		return "malformed DER"
	default:
		return err.Error()
	}
}

// jsonKind names the JSON value that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64 string"
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	default:
		return "value"
	}
}
