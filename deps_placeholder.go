// Temporary: keeps the chosen dependencies in go.mod while packages are
// written in parallel. Removed once main.go imports them for real.
package main

import (
	_ "github.com/alecthomas/kingpin/v2"
	_ "github.com/go-kit/log"
	_ "github.com/gorilla/websocket"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/exporter-toolkit/web"
	_ "github.com/tjhop/slog-gokit"
	_ "go.uber.org/goleak"
	_ "gopkg.in/yaml.v3"
)

func main() {}
