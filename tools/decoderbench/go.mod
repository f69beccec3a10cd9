module github.com/cms-exporter/cms_exporter/tools/decoderbench

go 1.26.8

replace github.com/cms-exporter/cms_exporter => ../..

require (
	github.com/cms-exporter/cms_exporter v0.0.0-00010101000000-000000000000
	github.com/goccy/go-json v0.12.0
	github.com/segmentio/encoding v0.5.4
)

require (
	github.com/go-kit/log v0.2.1 // indirect
	github.com/go-logfmt/logfmt v0.6.1 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
