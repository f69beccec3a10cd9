package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"

	"github.com/cms-exporter/cms_exporter/collector"
)

// statusRefresh is how often the browser reloads the status page (meta
// refresh: no JavaScript). The model changes every few seconds; a human
// reading the page does not need it faster, and each view copies the model.
const statusRefresh = 10

// statusLargest is how many of the largest meetings the page lists: all
// of the demo's dozen, and on a real cluster the ones that matter most.
const statusLargest = 20

//go:embed status.html
var statusHTML string

// statusTemplate is parsed once; html/template escapes every value coming
// from CMS (node errors, meeting names) for its context.
var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago":     func(t time.Time) string { return roundAgo(time.Since(t)) },
	"ms":      func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) },
	"percent": func(r float64) string { return fmt.Sprintf("%.0f%%", 100*r) },
	"sub":     func(a, b int) int { return a - b },
	"join":    func(s []string) string { return strings.Join(s, ", ") },
}).Parse(statusHTML))

// statusPage is what the template renders.
type statusPage struct {
	Name, Description string
	Links             []statusLink
	Refresh           int
	Nodes             []collector.NodeStatus
	Cluster           collector.Status
	Reload            reloadView
	// NameHidden says why a meeting shows no name: the configured
	// meeting_names mode, or a meeting CMS gave no name.
	NameHidden     string
	Version, Build string
	Started, Now   time.Time
}

type statusLink struct{ Address, Text string }

// roundAgo is a duration for humans: seconds under two minutes, then
// minutes, hours.
func roundAgo(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh", int(d.Hours()))
}

// statusHandler serves the status page: the exporter's landing page grown
// into a view of the cluster as the exporter sees it. It shows nothing
// /metrics does not (meeting names follow meeting_names), so it needs no
// more protection than /metrics has. Each view copies the model once
// (collector.Status) and renders without any lock.
func (x *exporter) statusHandler(metricsPath string, started time.Time) http.Handler {
	links := []statusLink{{metricsPath, "Metrics"}, {"/-/healthy", "Health"}, {"/-/ready", "Readiness"}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "This page answers GET only.", http.StatusMethodNotAllowed)
			return
		}
		st := x.model.Status(statusLargest)
		p := statusPage{
			Name:        programName,
			Description: "Prometheus exporter for Cisco Meeting Server clusters (events API)",
			Links:       links,
			Refresh:     statusRefresh,
			Nodes:       st.Nodes,
			Cluster:     st,
			Reload:      x.reloads.get(),
			NameHidden:  "no name",
			Version:     version.Info(),
			Build:       version.BuildContext(),
			Started:     started,
			Now:         time.Now(),
		}
		if st.Names == collector.NamesOmit {
			p.NameHidden = "name hidden (meeting_names: omit)"
		}
		var buf bytes.Buffer
		if err := statusTemplate.Execute(&buf, p); err != nil {
			level.Error(x.logger).Log("msg", "status page", "err", err)
			http.Error(w, "cannot render the status page", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	})
}
