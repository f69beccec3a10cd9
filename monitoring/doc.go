// Package monitoring proves the Grafana dashboards (../dashboards) and the
// Prometheus alerting rules (../alerts) against the exporter itself.
//
// It is a separate Go module so that Prometheus' own PromQL parser and rule
// file loader, which the proofs need, stay out of the exporter's dependency
// tree. The exporter's `go test ./...` does not descend into it; run it with
// ./run.sh, which also installs Prometheus (Debian package "prometheus",
// with promtool) when missing and runs `promtool check rules` and
// `promtool test rules` first.
//
// The tests:
//   - TestDashboardConventions, TestDashboardQueriesParse: every dashboard
//     follows the conventions (datasource variable, job/instance/node
//     variables, stable uid, not editable, title, description and unit on
//     every panel, no Angular panel, $__rate_interval in rates) and every
//     query parses with Prometheus' parser;
//   - TestRuleConventions: severities, summaries, descriptions, runbook links
//     to existing RUNBOOK.md sections, and a firing and a not-firing promtool
//     case for every alert;
//   - TestEndToEnd: a real Prometheus scrapes the real exporter binary
//     attached to the fake CMS cluster (cmswstest) with the shipped rules
//     loaded; a scenario drives the cluster and the test asserts, through
//     Prometheus' HTTP API, which alerts fire with which labels, that key
//     dashboard queries equal what the fake cluster's ground truth implies,
//     that every dashboard query returns data, and that every metric name
//     the dashboards and rules use is one the exporter exposed.
//
// The non-test files hold the small helpers the tests share: loading
// dashboards and rules, substituting Grafana variables, walking PromQL.
package monitoring
