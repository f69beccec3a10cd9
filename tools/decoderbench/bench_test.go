package decoderbench

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkDecoders decodes every captured frame with each decoder (one op
// decodes them all) and, at the end, prints the comparison as a Markdown
// table: ns, allocations and bytes allocated per message, MB/s, and the
// speed relative to encoding/json v1.
func BenchmarkDecoders(b *testing.B) {
	frames := captureFrames(b)
	var size int64
	for _, f := range frames {
		size += int64(len(f))
	}
	type row struct {
		name                       string
		nsPerMsg, allocs, bytesMsg float64
		mbps                       float64
	}
	var rows []row
	for _, dec := range Decoders() {
		var r row
		ok := b.Run(strings.NewReplacer("/", "-", " ", "", "(", "", ")", "").Replace(dec.Name), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				for _, f := range frames {
					if _, err := dec.Decode(f); err != nil {
						b.Fatalf("%s: %v\n%s", dec.Name, err, f)
					}
				}
			}
			runtime.ReadMemStats(&after)
			msgs := float64(b.N) * float64(len(frames))
			ns := float64(b.Elapsed().Nanoseconds())
			r = row{
				name:     dec.Name,
				nsPerMsg: ns / msgs,
				allocs:   float64(after.Mallocs-before.Mallocs) / msgs,
				bytesMsg: float64(after.TotalAlloc-before.TotalAlloc) / msgs,
				mbps:     float64(size) * float64(b.N) / ns * 1e3,
			}
			b.ReportMetric(r.nsPerMsg, "ns/msg")
			b.ReportMetric(r.allocs, "allocs/msg")
		})
		if ok {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%d captured frames, %d bytes, %s\n\n", len(frames), size, runtime.Version())
	sb.WriteString("| decoder | ns/msg | allocs/msg | B/msg | MB/s | vs v1 |\n|---|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | %.0f | %.1f | %.0f | %.1f | %.2fx |\n",
			r.name, r.nsPerMsg, r.allocs, r.bytesMsg, r.mbps, rows[0].nsPerMsg/r.nsPerMsg)
	}
	fmt.Print(sb.String())
}
