package aliyunsim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"reflect"
	"sort"
	"strconv"
)

// obj is a response body: the simulator builds answers as maps so that one value encodes to both
// of Alibaba's formats.
type obj = map[string]any

// encodeJSON writes v the way Alibaba's JSON answers look (no HTML escaping: PEM and URLs pass
// through untouched).
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only programming errors get here: every answer is built from plain values.
		panic(fmt.Sprintf("aliyunsim: encoding JSON: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// encodeXML writes v under the root element: a map becomes child elements in key order, a
// list repeats its parent's element name (Alibaba's XML for `"Items":[a,b]` is
// `<Items>a</Items><Items>b</Items>`), scalars become text.
func encodeXML(root string, v any) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	writeXMLValue(&b, root, reflect.ValueOf(v))
	return b.Bytes()
}

func writeXMLValue(b *bytes.Buffer, name string, v reflect.Value) {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.WriteString("<" + name + "></" + name + ">")
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			writeXMLValue(b, name, v.Index(i))
		}
		return
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		b.WriteString("<" + name + ">")
		for _, k := range keys {
			writeXMLValue(b, k, v.MapIndex(reflect.ValueOf(k)))
		}
		b.WriteString("</" + name + ">")
		return
	}
	b.WriteString("<" + name + ">")
	var text string
	switch v.Kind() {
	case reflect.String:
		text = v.String()
	case reflect.Bool:
		text = strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		text = strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		text = strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		text = strconv.FormatFloat(v.Float(), 'f', -1, 64)
	default:
		text = fmt.Sprint(v.Interface())
	}
	_ = xml.EscapeText(b, []byte(text))
	b.WriteString("</" + name + ">")
}
