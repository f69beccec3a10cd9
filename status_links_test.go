package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Every link of the page at / answers: the exporter-toolkit landing page
// linked /debug/pprof/*, which this exporter does not serve (404).
func TestStatusPageLinksAnswer(t *testing.T) {
	r := startRun(t, "--demo", "--demo.seed=3")
	var page string
	r.waitFor("the page at /", func() bool {
		code, body := r.get("/")
		page = body
		return code == http.StatusOK
	})
	hrefs := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(hrefs) == 0 {
		t.Fatalf("no link on /:\n%s", page)
	}
	for _, m := range hrefs {
		href := strings.ReplaceAll(m[1], "&amp;", "&")
		if strings.HasPrefix(href, "http://") || strings.HasPrefix(href, "https://") {
			continue // outside the exporter
		}
		if !strings.HasPrefix(href, "/") {
			href = "/" + href
		}
		if code, _ := r.get(href); code == http.StatusNotFound {
			t.Errorf("/ links %s, which answers 404", href)
		}
	}
}
