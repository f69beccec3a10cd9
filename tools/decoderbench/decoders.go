package decoderbench

import (
	stdjson "encoding/json"

	goccy "github.com/goccy/go-json"
	segjson "github.com/segmentio/encoding/json"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

type (
	stdCodec   struct{}
	goccyCodec struct{}
	segCodec   struct{}
)

func (stdCodec) unmarshal(data []byte, v any) error   { return stdjson.Unmarshal(data, v) }
func (goccyCodec) unmarshal(data []byte, v any) error { return goccy.Unmarshal(data, v) }
func (segCodec) unmarshal(data []byte, v any) error   { return segjson.Unmarshal(data, v) }

// Decoder is one way of decoding a frame. Decode returns what it made of
// it, for comparison with the reference.
type Decoder struct {
	Name   string
	Decode func(data []byte) (any, error)
}

// decodeWith decodes a frame into Envelope with the library C.
func decodeWith[C codec](data []byte) (any, error) {
	var env Envelope[C]
	var c C
	err := c.unmarshal(data, &env)
	return &env, err
}

// Decoders lists the decoders compared, the reference (encoding/json v1)
// first. encoding/json/v2 joins them when built with GOEXPERIMENT=jsonv2.
func Decoders() []Decoder {
	ds := []Decoder{
		{"encoding/json (v1)", decodeWith[stdCodec]},
		{"goccy/go-json", decodeWith[goccyCodec]},
		{"segmentio/encoding/json", decodeWith[segCodec]},
	}
	ds = append(ds, v2Decoders()...)
	return append(ds, Decoder{"cmsws.DecodeFrame", func(data []byte) (any, error) {
		f, err := cmsws.DecodeFrame(data)
		return f, err
	}})
}
