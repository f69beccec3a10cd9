package config

import (
	"regexp"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// DefaultKeepCallsWhenDownProbes: unless set, a down node's calls stay in
// the metrics for this many probe intervals (90s by default): a reconnect
// after a blip takes seconds, and a node gone longer should stop counting
// meetings that may have ended.
const DefaultKeepCallsWhenDownProbes = 3

// Config is a loaded, validated and fully resolved configuration file.
type Config struct {
	// Nodes in file order, every setting effective (defaults applied,
	// password and CA files read).
	Nodes []Node `yaml:"nodes"`
	// PerCallMetrics enables the cms_call_* series (default true). When
	// false only node and cluster aggregates are exported.
	PerCallMetrics bool `yaml:"per_call_metrics"`
	// Roster chooses the meetings whose participants are watched.
	Roster Roster `yaml:"roster"`
	// MeetingNames says how meeting names appear as label values on
	// /metrics: "show" (the default), "hash" or "omit" (MeetingNameModes).
	// A meeting's name can be confidential ("Board: merger with X"), and
	// /metrics is readable by whoever can reach the port. Kept as the
	// file's word; the collector parses it into its own mode.
	MeetingNames string `yaml:"meeting_names"`
	// Warnings are legal but risky settings (certificate verification
	// switched off, a world-readable password file). The loader has no
	// logger; the caller logs these at warning level.
	Warnings []string `yaml:"-"`
}

// Node is one Call Bridge with every setting effective. Its yaml tags are
// the keys of a node in the file (defaults takes all but name and url). A
// reload compares Nodes with reflect.DeepEqual: a Node holds the password
// and the CA file's content, so a changed file restarts exactly the nodes
// using it.
type Node struct {
	// Name is the value of the node= label: unique, [a-zA-Z0-9_.-]+.
	Name string `yaml:"name"`
	// URL is the node's base URL, "https://host[:port]" without a trailing
	// slash; the API and events endpoints are derived from it.
	URL string `yaml:"url"`
	// Username and Password are the API credentials (HTTP Basic).
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// PasswordFile is where Password was read from ("" when the password
	// was written inline), already resolved against the config's directory.
	PasswordFile string `yaml:"password_file,omitempty"`
	TLS          TLS    `yaml:"tls"`

	// Timing paces the node's event connections: connect_timeout,
	// probe_interval, probe_timeout (always < ProbeInterval), backoff_min,
	// backoff_max (BackoffMin <= BackoffMax) and auth_failure_backoff;
	// unset ones are cmsws.DefaultTiming's.
	cmsws.Timing `yaml:",inline"`
	// KeepCallsWhenDown is how long the calls of a node whose events
	// stream is down stay in the per-call and cluster series (cms_up says
	// they are frozen); after it they leave, uncounted, until the node's
	// next snapshot. Default DefaultKeepCallsWhenDownProbes × ProbeInterval.
	KeepCallsWhenDown time.Duration `yaml:"keep_calls_when_down"`

	// Connections is the number of event connections the exporter opens
	// to the node (1–4): the first carries the calls subscription, and
	// each carries up to 100 subscriptions, one per watched meeting. CMS
	// allows 5 per node and Cisco Meeting Management needs one.
	Connections int `yaml:"connections"`
	// CapacityParticipants is what the node is licensed or sized for, in
	// participants (0 = not stated); exported for utilisation dashboards
	// and alerts.
	CapacityParticipants int `yaml:"capacity_participants"`
	// REST is how the node's own counters are read over its REST API.
	REST REST `yaml:"rest"`
}

// REST configures the polling of a node's REST API (status, load, limits,
// alarms, licences) with the node's URL, credentials and TLS settings.
type REST struct {
	// Enabled polls the node (default true).
	Enabled bool `yaml:"enabled"`
	// Interval between two reads of the same resource (default
	// cmsrest.DefaultInterval); Timeout bounds one request (default
	// cmsrest.DefaultTimeout, less than Interval).
	Interval time.Duration `yaml:"interval"`
	Timeout  time.Duration `yaml:"timeout"`
}

// MeetingNameModes are the values of meeting_names, the default first.
func MeetingNameModes() []string { return []string{"show", "hash", "omit"} }

// MinRESTInterval keeps the REST poller low-rate: six requests per node
// per interval.
const MinRESTInterval = 5 * time.Second

// MaxConnections bounds Node.Connections: CMS allows 5 event connections
// per node, and Cisco Meeting Management needs one of them.
const MaxConnections = 4

// Roster chooses which meetings get a roster subscription when the budget
// (100 subscriptions per connection) cannot cover them all. Patterns are
// regular expressions matched against the whole meeting name (anchored, as
// in Prometheus relabelling).
type Roster struct {
	// Include: only meetings whose name matches one of these (empty = all).
	Include []*regexp.Regexp `yaml:"-"`
	// Exclude: never meetings whose name matches one of these.
	Exclude []*regexp.Regexp `yaml:"-"`
	// BatchInterval: subscription changes are gathered and sent at most
	// this often, so 50 meetings starting together cost a few requests.
	BatchInterval time.Duration `yaml:"batch_interval"`
}

// TLS says how a node's certificate is verified.
type TLS struct {
	// CAFile is the PEM bundle of trusted roots ("" = system roots),
	// resolved against the config's directory. The loader reads it once;
	// TLSConfig uses that content, so the content a reload compares (see
	// Node) is the content used.
	CAFile string `yaml:"ca_file,omitempty"`
	// ServerName overrides the name the certificate is verified against
	// (and sent as SNI); "" = the URL's host.
	ServerName string `yaml:"server_name,omitempty"`
	// InsecureSkipVerify disables certificate verification. Only ever set
	// explicitly; the loader adds a warning when it is.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`

	// ca is the content of CAFile as read at load time; nil for Nodes built
	// in code, whose CAFile is then read by Config().
	ca *caBundle
}

// caBundle is a pointer-held copy of a CA file so that printing a Node shows
// an address instead of kilobytes of PEM bytes.
type caBundle struct{ pem []byte }
