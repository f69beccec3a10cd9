package monitoring

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promAPI is a minimal client of Prometheus' HTTP API (/api/v1).
type promAPI struct {
	base string // http://127.0.0.1:PORT
}

type sample struct {
	Labels map[string]string
	Value  float64
}

// get decodes the data field of an /api/v1 answer into out.
func (p promAPI) get(path string, params url.Values, out any) error {
	u := p.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	resp, err := httpClient.Get(u)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("GET %s %v: %s: %s", path, params, resp.Status, env.Error)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}

// query runs an instant query (at now when at is zero). A scalar result is
// returned as one sample without labels.
func (p promAPI) query(expr string, at time.Time) ([]sample, error) {
	params := url.Values{"query": {expr}}
	if !at.IsZero() {
		params.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", params, &data); err != nil {
		return nil, err
	}
	switch data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &vec); err != nil {
			return nil, fmt.Errorf("query %s: %w", expr, err)
		}
		out := make([]sample, 0, len(vec))
		for _, v := range vec {
			f, err := parseValue(v.Value[1])
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", expr, err)
			}
			out = append(out, sample{Labels: v.Metric, Value: f})
		}
		return out, nil
	case "scalar":
		var sc [2]any
		if err := json.Unmarshal(data.Result, &sc); err != nil {
			return nil, fmt.Errorf("query %s: %w", expr, err)
		}
		f, err := parseValue(sc[1])
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", expr, err)
		}
		return []sample{{Labels: map[string]string{}, Value: f}}, nil
	}
	return nil, fmt.Errorf("query %s: unexpected result type %q", expr, data.ResultType)
}

func parseValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v)
	}
	return strconv.ParseFloat(s, 64)
}

type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

func (a alert) String() string {
	var parts []string
	for k, v := range a.Labels {
		if k != "alertname" {
			parts = append(parts, fmt.Sprintf("%s=%q", k, v))
		}
	}
	slices.Sort(parts)
	return fmt.Sprintf("%s %s{%s}", a.State, a.Labels["alertname"], strings.Join(parts, ","))
}

// alerts returns the pending and firing alerts.
func (p promAPI) alerts() ([]alert, error) {
	var data struct {
		Alerts []alert `json:"alerts"`
	}
	if err := p.get("/api/v1/alerts", nil, &data); err != nil {
		return nil, err
	}
	return data.Alerts, nil
}

// metricNames returns every metric name in Prometheus' storage.
func (p promAPI) metricNames() (map[string]bool, error) {
	var names []string
	if err := p.get("/api/v1/label/__name__/values", nil, &names); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

type ruleState struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// rules returns every loaded rule with its evaluation health.
func (p promAPI) rules() ([]ruleState, error) {
	var data struct {
		Groups []struct {
			Rules []ruleState `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get("/api/v1/rules", nil, &data); err != nil {
		return nil, err
	}
	var out []ruleState
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// promAPIFor waits for the Prometheus process to be ready.
func promAPIFor(t *testing.T, p *process, port int) promAPI {
	t.Helper()
	api := promAPI{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	waitReady(t, p, api.base+"/-/ready", 60*time.Second)
	return api
}
