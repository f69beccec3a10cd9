//go:build !goexperiment.jsonv2

package decoderbench

// v2Decoders is empty without GOEXPERIMENT=jsonv2: Go 1.26 still keeps
// encoding/json/v2 behind it.
func v2Decoders() []Decoder { return nil }
