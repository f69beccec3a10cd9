package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// resolver turns the decoded file into effective Nodes, recording every
// problem in p. Files named by the config are read once each, and a problem
// with a setting is reported once, where it is written — an unreadable
// defaults.password_file is one error listing the nodes that needed it, not
// one per node.
type resolver struct {
	p       *problems
	baseDir string
	raw     *fileYAML

	files map[string]fileResult // by resolved file path
	uses  []*settingUse         // in order of first use
	byKey map[string]*settingUse
}

type fileResult struct {
	password      Secret
	worldReadable bool
	ca            *caBundle
	err           error
}

// settingUse is one password_file, ca_file or insecure_skip_verify as
// written in the file, and the nodes that ended up using it.
type settingUse struct {
	path  string // e.g. "defaults.password_file", "nodes[1].tls.ca_file"
	node  string // name of the node whose block holds it; "" for defaults
	file  string // resolved file path, if it names one
	res   fileResult
	users []string
}

func resolve(raw *fileYAML, p *problems, baseDir string) *Config {
	r := &resolver{p: p, baseDir: baseDir, raw: raw, files: map[string]fileResult{}, byKey: map[string]*settingUse{}}
	cfg := &Config{PerCallMetrics: true}
	if raw.PerCallMetrics != nil {
		cfg.PerCallMetrics = *raw.PerCallMetrics
	}
	cfg.Roster = r.roster()

	r.checkBlock("defaults", "", &raw.Defaults)
	defaults := timings{}.with(&raw.Defaults)
	r.checkTimings("defaults", "", defaults, &raw.Defaults)

	if len(raw.Nodes) == 0 {
		p.at("nodes", "", nil, "at least one node is required")
	}
	names := map[string]int{}
	urls := map[string]int{}
	for i := range raw.Nodes {
		cfg.Nodes = append(cfg.Nodes, r.node(i, defaults, names, urls))
	}
	r.finish(cfg)
	return cfg
}

func (r *resolver) node(i int, defaults timings, names, urls map[string]int) Node {
	rn := &r.raw.Nodes[i]
	path := fmt.Sprintf("nodes[%d]", i)
	var n Node
	r.identity(i, path, rn, &n, names, urls)
	label := n.Name // how defaults-level messages refer to this node
	if label == "" {
		label = path
	}

	own := &rn.settingsYAML
	r.checkBlock(path, n.Name, own)
	t := defaults.with(own)
	r.checkTimings(path, n.Name, t, own)
	t.apply(&n)
	n.Connections, _ = pick(own.Connections, r.raw.Defaults.Connections, path, 1)
	n.CapacityParticipants, _ = pick(own.CapacityParticipants, r.raw.Defaults.CapacityParticipants, path, 0)
	r.credentials(path, label, own, &n)
	r.tls(path, label, own, &n)
	return n
}

// identity checks and sets the node's name and URL, both unique.
func (r *resolver) identity(i int, path string, rn *nodeYAML, n *Node, names, urls map[string]int) {
	switch {
	case rn.Name == "":
		r.p.at(path+".name", "", nil, "missing; every node needs a unique name (the node label)")
	case !validName(rn.Name):
		r.p.at(path+".name", "", nil, "%q is not a valid node name; use letters, digits, \"_\", \".\" and \"-\"", rn.Name)
	default:
		n.Name = rn.Name
		if j, dup := names[rn.Name]; dup {
			r.p.at(path+".name", n.Name, nil, "duplicate node name; nodes[%d] (line %d) already uses it",
				j, r.p.pos.lineOf(fmt.Sprintf("nodes[%d].name", j)))
		} else {
			names[rn.Name] = i
		}
	}

	u, err := nodeURL(rn.URL)
	if err != nil {
		r.p.at(path+".url", n.Name, err, "")
		return
	}
	n.URL = u
	if j, dup := urls[u]; dup {
		r.p.at(path+".url", n.Name, nil, "same node as nodes[%d] (line %d); each node must be listed once",
			j, r.p.pos.lineOf(fmt.Sprintf("nodes[%d].url", j)))
	} else {
		urls[u] = i
	}
}

// credentials sets username and password. The node's password or
// password_file replaces both of the defaults' (one credential per node,
// whichever form it takes).
func (r *resolver) credentials(path, label string, own *settingsYAML, n *Node) {
	def := &r.raw.Defaults
	if u, from := pick(own.Username, def.Username, path, ""); from != "" {
		n.Username = u
	} else {
		r.p.at(path, n.Name, nil, "no username; set username here or in defaults")
	}

	src, srcPath, srcNode := own, path, n.Name
	if own.Password == nil && own.PasswordFile == nil {
		src, srcPath, srcNode = def, "defaults", ""
	}
	switch {
	case src.Password != nil && src.PasswordFile != nil:
		// Reported by checkBlock.
	case src.Password != nil:
		n.Password = *src.Password
	case src.PasswordFile != nil:
		if *src.PasswordFile != "" { // "" is reported by checkBlock
			u := r.use(srcPath+".password_file", srcNode, resolvePath(r.baseDir, *src.PasswordFile), label, readPasswordResult)
			n.PasswordFile, n.Password = u.file, u.res.password
		}
	default:
		r.p.at(path, n.Name, nil, "no password; set password or password_file here or in defaults")
	}
}

// tls sets the TLS settings, each inherited on its own.
func (r *resolver) tls(path, label string, own *settingsYAML, n *Node) {
	def := &r.raw.Defaults
	if ca, from := pick(own.TLS.CAFile, def.TLS.CAFile, path, ""); ca != "" {
		u := r.use(from+".tls.ca_file", ownerName(from, n.Name), resolvePath(r.baseDir, ca), label, readCAResult)
		n.TLS.CAFile, n.TLS.ca = u.file, u.res.ca
	}
	n.TLS.ServerName, _ = pick(own.TLS.ServerName, def.TLS.ServerName, path, "")
	if insecure, from := pick(own.TLS.InsecureSkipVerify, def.TLS.InsecureSkipVerify, path, false); insecure {
		n.TLS.InsecureSkipVerify = true
		r.use(from+".tls.insecure_skip_verify", ownerName(from, n.Name), "", label, nil)
	}
}

// pick returns the node's value if set, else the defaults' value, else
// fallback, and the block it came from: path, "defaults", or "" for fallback.
func pick[T any](own, def *T, path string, fallback T) (T, string) {
	switch {
	case own != nil:
		return *own, path
	case def != nil:
		return *def, "defaults"
	}
	return fallback, ""
}

func ownerName(block, node string) string {
	if block == "defaults" {
		return ""
	}
	return node
}

// use records that node uses the setting at path, reading file once.
func (r *resolver) use(path, owner, file, node string, read func(string) fileResult) *settingUse {
	u, ok := r.byKey[path]
	if !ok {
		u = &settingUse{path: path, node: owner, file: file}
		if read != nil {
			res, cached := r.files[file]
			if !cached {
				res = read(file)
				r.files[file] = res
			}
			u.res = res
		}
		r.byKey[path] = u
		r.uses = append(r.uses, u)
	}
	u.users = append(u.users, node)
	return u
}

func readPasswordResult(file string) fileResult {
	s, wr, err := readPassword(file)
	return fileResult{password: s, worldReadable: wr, err: err}
}

func readCAResult(file string) fileResult {
	ca, err := readCA(file)
	return fileResult{ca: ca, err: err}
}

// finish reports file errors and collects warnings, once per setting.
func (r *resolver) finish(cfg *Config) {
	for _, u := range r.uses {
		who := ""
		if u.node == "" { // a defaults setting: say which nodes it affects
			who = "for " + plural(len(u.users), "node", "nodes") + " " + strings.Join(u.users, ", ")
		}
		switch {
		case u.res.err != nil:
			r.p.at(u.path, u.node, u.res.err, "%s", who)
		case u.res.worldReadable:
			cfg.Warnings = append(cfg.Warnings, r.warning(u, who, fmt.Sprintf("%s is readable by all users; restrict it to the exporter's user (chmod 600)", u.file)))
		case strings.HasSuffix(u.path, "insecure_skip_verify"):
			cfg.Warnings = append(cfg.Warnings, r.warning(u, who, "TLS certificate verification is disabled; anyone on the network path can impersonate the node and capture its credentials"))
		}
	}
}

func (r *resolver) warning(u *settingUse, who, msg string) string {
	if who != "" {
		msg = who + ": " + msg
	}
	return (&Error{File: r.p.file, Line: r.p.pos.lineOf(u.path), Path: u.path, Node: u.node, Msg: msg}).Error()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// checkBlock validates the settings written in one block (defaults or a
// node), independently of inheritance.
func (r *resolver) checkBlock(path, node string, s *settingsYAML) {
	if s.Connections != nil && (*s.Connections < 1 || *s.Connections > MaxConnections) {
		r.p.at(path+".connections", node, nil, "%d is out of range 1..%d (CMS allows 5 event connections per node and Cisco Meeting Management needs one)", *s.Connections, MaxConnections)
	}
	if s.CapacityParticipants != nil && *s.CapacityParticipants < 0 {
		r.p.at(path+".capacity_participants", node, nil, "must not be negative")
	}
	if s.Username != nil {
		switch {
		case *s.Username == "":
			r.p.at(path+".username", node, nil, "must not be empty")
		case strings.ContainsAny(*s.Username, ":\r\n"):
			// RFC 7617: the user-id of HTTP Basic auth cannot contain ':'.
			r.p.at(path+".username", node, nil, "must not contain ':' or line breaks")
		}
	}
	if s.Password != nil {
		switch {
		case *s.Password == "":
			r.p.at(path+".password", node, nil, "must not be empty")
		case strings.ContainsAny(s.Password.Reveal(), "\r\n"):
			r.p.at(path+".password", node, nil, "must be a single line")
		}
	}
	if s.PasswordFile != nil && *s.PasswordFile == "" {
		r.p.at(path+".password_file", node, nil, "must not be empty")
	}
	if s.Password != nil && s.PasswordFile != nil {
		r.p.at(path+".password_file", node, nil, "set either password or password_file, not both")
	}
	for _, f := range s.durations() {
		if f.v != nil && *f.v <= 0 {
			r.p.at(path+"."+f.key, node, nil, "must be greater than 0, got %s", time.Duration(*f.v))
		}
	}
}

// checkTimings validates relations between durations. A block is blamed
// only for a relation it takes part in (sets one of the two values), so a
// bad pair in defaults is reported once, at defaults.
func (r *resolver) checkTimings(path, node string, t timings, s *settingsYAML) {
	// lo must be below hi (or equal, unless strict).
	rel := func(loKey string, lo *Duration, loV time.Duration, hiKey string, hi *Duration, hiV time.Duration, strict bool) {
		if (lo == nil && hi == nil) || loV <= 0 || hiV <= 0 || loV < hiV || (!strict && loV == hiV) {
			return
		}
		below, above := "at most", "at least"
		if strict {
			below, above = "less than", "greater than"
		}
		if lo != nil {
			r.p.at(path+"."+loKey, node, nil, "must be %s %s (%s), got %s", below, hiKey, hiV, loV)
		} else {
			r.p.at(path+"."+hiKey, node, nil, "must be %s %s (%s), got %s", above, loKey, loV, hiV)
		}
	}
	rel("probe_timeout", s.ProbeTimeout, t.probeTimeout, "probe_interval", s.ProbeInterval, t.probeInterval, true)
	rel("backoff_min", s.BackoffMin, t.backoffMin, "backoff_max", s.BackoffMax, t.backoffMax, false)
}

type durationField struct {
	key string
	v   *Duration
}

func (s *settingsYAML) durations() []durationField {
	return []durationField{
		{"connect_timeout", s.ConnectTimeout},
		{"probe_interval", s.ProbeInterval},
		{"probe_timeout", s.ProbeTimeout},
		{"backoff_min", s.BackoffMin},
		{"backoff_max", s.BackoffMax},
		{"auth_failure_backoff", s.AuthFailureBackoff},
		{"keep_calls_when_down", s.KeepCallsWhenDown},
	}
}

// timings are effective durations; the zero value means "built-in".
type timings struct {
	connectTimeout, probeInterval, probeTimeout time.Duration
	backoffMin, backoffMax, authFailureBackoff  time.Duration
	// keepCallsWhenDown 0: derived from probeInterval in apply.
	keepCallsWhenDown time.Duration
}

// with returns t overridden by what s sets; unset values in t are filled
// from the built-in defaults.
func (t timings) with(s *settingsYAML) timings {
	or := func(v *Duration, cur, builtin time.Duration) time.Duration {
		switch {
		case v != nil:
			return time.Duration(*v)
		case cur != 0:
			return cur
		}
		return builtin
	}
	builtin := cmsws.DefaultTiming()
	return timings{
		connectTimeout:     or(s.ConnectTimeout, t.connectTimeout, builtin.ConnectTimeout),
		probeInterval:      or(s.ProbeInterval, t.probeInterval, builtin.ProbeInterval),
		probeTimeout:       or(s.ProbeTimeout, t.probeTimeout, builtin.ProbeTimeout),
		backoffMin:         or(s.BackoffMin, t.backoffMin, builtin.BackoffMin),
		backoffMax:         or(s.BackoffMax, t.backoffMax, builtin.BackoffMax),
		authFailureBackoff: or(s.AuthFailureBackoff, t.authFailureBackoff, builtin.AuthFailureBackoff),
		keepCallsWhenDown:  or(s.KeepCallsWhenDown, t.keepCallsWhenDown, 0),
	}
}

func (t timings) apply(n *Node) {
	n.ConnectTimeout, n.ProbeInterval, n.ProbeTimeout = t.connectTimeout, t.probeInterval, t.probeTimeout
	n.BackoffMin, n.BackoffMax, n.AuthFailureBackoff = t.backoffMin, t.backoffMax, t.authFailureBackoff
	n.KeepCallsWhenDown = t.keepCallsWhenDown
	if n.KeepCallsWhenDown == 0 {
		n.KeepCallsWhenDown = DefaultKeepCallsWhenDownProbes * t.probeInterval
	}
}

// validName: node names become label values and log fields, so keep them to a
// plain alphabet that needs no quoting anywhere.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// roster compiles the roster block's patterns, anchored like Prometheus
// relabelling regexes, reporting each bad one where it is written.
func (r *resolver) roster() Roster {
	raw := &r.raw.Roster
	ro := Roster{BatchInterval: DefaultBatchInterval}
	if raw.BatchInterval != nil {
		if d := time.Duration(*raw.BatchInterval); d < 10*time.Millisecond || d > time.Minute {
			r.p.at("roster.batch_interval", "", nil, "%s is out of range 10ms..1m", d)
		} else {
			ro.BatchInterval = d
		}
	}
	compile := func(key string, pats []string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for i, pat := range pats {
			re, err := regexp.Compile("^(?:" + pat + ")$")
			if err != nil {
				r.p.at(fmt.Sprintf("roster.%s[%d]", key, i), "", nil, "invalid regular expression %q: %v", pat, err)
				continue
			}
			out = append(out, re)
		}
		return out
	}
	ro.Include = compile("include", raw.Include)
	ro.Exclude = compile("exclude", raw.Exclude)
	return ro
}
