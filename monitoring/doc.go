// Package monitoring proves the Grafana dashboards (../dashboards) and the
// Prometheus alerting rules (../alerts) against the exporter itself.
//
// It is a separate Go module so that Prometheus' own PromQL parser and rule
// file loader, which the proofs need, stay out of the exporter's dependency
// tree. The exporter's `go test ./...` does not descend into it; run it with
// ./run.sh, which gets both Prometheus majors (the Debian package
// "prometheus", 2.x, installed when missing; 3.x built from the module
// version go.mod requires, and cached), runs `promtool check rules` and
// `promtool test rules` with each, then these tests with both servers.
//
// The tests:
//   - TestDashboardConventions, TestDashboardQueriesParse: every dashboard
//     follows the conventions (stable uid, not editable, title and
//     description on every panel, no Angular panel, node variable) and
//     every query parses with Prometheus' parser;
//   - TestDashboardLint: the rules of Grafana's dashboard-linter (datasource
//     variable used everywhere, multi-select job and instance variables,
//     job=~"$job" and instance=~"$instance" on every selector, units,
//     $__rate_interval, no hard-coded job), checked on the parsed PromQL,
//     and the project's rules for several clusters on one dashboard;
//     TestLintRulesCanFail breaks copies of the dashboards to prove that
//     every rule can fail;
//   - TestDashboardAndRuleMetricsDocumented: every metric name the
//     dashboards and rules use is in README's metrics table (or is the
//     series of a documented histogram, or one Prometheus or the client
//     library writes). Issue 9's names (metrics_test.go: the REST poller,
//     the nodes' own counters, the model's drift, the meeting-size
//     histogram) are accepted while the exporter does not serve them yet;
//   - TestRuleConventions: severities, summaries, descriptions, runbook links
//     to existing RUNBOOK.md sections, a firing and a not-firing promtool
//     case for every alert and one with two exporters where it fires for
//     one only, job and instance on every alert a case expects; and, read
//     with Prometheus' parser, expressions that keep their target's labels
//     (TargetLabelProblems) and annotation queries filtered on job and
//     instance;
//   - TestEndToEnd, once per Prometheus server listed in CMS_E2E_PROMETHEUS
//     (default: the prometheus on PATH): a real Prometheus scrapes two
//     real exporter binaries, each attached to a fake CMS cluster
//     (cmswstest), with the shipped rules loaded; a scenario drives the
//     clusters and the test asserts, through Prometheus' HTTP API, which
//     alerts fire for which cluster with which labels, that key
//     dashboard queries equal what the fake cluster's ground truth implies,
//     that every dashboard query returns data, and that every metric name
//     the dashboards and rules use is one the exporter exposed (those of
//     REST data excepted: the fake clusters are not polled over REST; the
//     two tests below prove them). The dashboard variables take the values
//     Grafana would give them, their options asked from Prometheus;
//   - TestEndToEndClusters: one Prometheus scrapes two exporters watching
//     two look-alike clusters; with all exporters picked, and with one, key
//     dashboard queries equal each cluster's truth (or their total, as the
//     panel says) and no query fails;
//   - TestEndToEndRESTFixture: the REST panels and rules (issue 9) on every
//     server, against two fixed expositions shaped by issue 9's contract
//     (two look-alike exporters, one busy, one calm): key panels equal the
//     fixtures' truth, every REST query returns data, exactly the busy
//     fixture's alerts fire. It proves the queries before the exporter
//     serves the metrics (histogram bounds are 2 on Prometheus 2, 2.0 on
//     3, say);
//   - TestEndToEndDemo: the REST side against the exporter's --demo, whose
//     simulated nodes answer the REST API: every REST query returns data
//     within demoDataTimeout (2 minutes: the demo's alarms come and go),
//     every issue 9 name the dashboards and rules use is exposed, the
//     dashboards' call legs and meeting sizes agree with the cluster's
//     figures, every rule evaluates. It skips while README's metrics table
//     does not document cms_rest_up (the exporter does not serve issue 9's
//     metrics yet).
//
// The non-test files hold the small helpers the tests share: loading
// dashboards and rules, substituting Grafana variables, walking PromQL.
package monitoring
