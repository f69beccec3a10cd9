package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cms-exporter/cms_exporter/internal/scrapegate"
)

// handler serves the metrics, the lifecycle endpoints Prometheus tooling
// expects (/-/healthy, /-/ready, /-/reload) and a landing page.
func (x *exporter) handler(metricsPath string) http.Handler {
	mux := http.NewServeMux()
	// One render at a time, shared by the scrapes that waited for it
	// (internal/scrapegate): concurrent scrapes must not take the CPU from
	// the goroutines reading and acking the event streams, nor hold a copy
	// of the exposition each. The instrumentation outside the gate still
	// counts every request.
	mux.Handle(metricsPath, promhttp.InstrumentMetricHandler(x.registry,
		scrapegate.New(promhttp.HandlerFor(x.registry, promhttp.HandlerOpts{
			ErrorLog:          promhttpLogger{x},
			ErrorHandling:     promhttp.ContinueOnError,
			EnableOpenMetrics: true,
		}))))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	// Ready once a configuration is loaded and the model serves it,
	// whatever the CMS nodes do: their health is cms_up's (and the status
	// page's) business. Tying readiness to the nodes would have an
	// orchestrator restart, or a load balancer drop, the one process that
	// can say the cluster is down.
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !x.reloads.get().Loaded {
			http.Error(w, "Not ready: the configuration is not loaded yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
			return
		}
		// As Prometheus: whoever can reach the port must not be able to
		// make the exporter re-read its files and reconnect unless asked.
		if !x.lifecycle {
			http.Error(w, "Lifecycle API is not enabled: start the exporter with --web.enable-lifecycle to reload over HTTP, or send it SIGHUP.", http.StatusForbidden)
			return
		}
		if err := x.tryReload(); errors.Is(err, errReloadInProgress) {
			w.Header().Set("Retry-After", "5")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		} else if err != nil {
			level.Error(x.logger).Log("msg", "reload failed; keeping the running configuration", "err", err)
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	})
	// The status page is the landing page. When the metrics take "/"
	// (--web.telemetry-path=/), they keep it, as before: a scraper
	// configured for "/" must not get HTML; the page moves to /status.
	status := x.statusHandler(metricsPath, time.Now())
	if metricsPath == "/" || metricsPath == "" {
		mux.Handle("/status", status)
	} else {
		mux.Handle("/{$}", status)
	}
	return mux
}

// promhttpLogger adapts go-kit to promhttp's Println-style error log.
type promhttpLogger struct{ x *exporter }

func (l promhttpLogger) Println(v ...any) {
	level.Error(l.x.logger).Log("msg", strings.TrimSpace(fmt.Sprintln(v...)))
}
