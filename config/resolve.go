package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// resolver validates the decoded nodes and makes them effective, recording
// every problem in p. The file a setting names is read once, and a problem
// with a setting is reported once, where it is written: an unreadable
// defaults.password_file is one error listing the nodes that needed it, not
// one per node.
type resolver struct {
	p       *problems
	baseDir string
	read    readFunc
	uses    []*settingUse          // in order of first use
	byPath  map[string]*settingUse // by settingUse.path
}

// settingUse is one password_file, ca_file or insecure_skip_verify as
// written in the file, what it read, and the nodes that ended up using it.
type settingUse struct {
	path          string // e.g. "defaults.password_file", "nodes[1].tls.ca_file"
	file          string // resolved file path, if it names one
	password      Secret
	worldReadable bool
	ca            *caBundle
	err           error
	users         []string
}

// resolve checks f, whose nodes are decoded onto its defaults, and returns
// the configuration they make.
func resolve(f *file, nodes []Node, p *problems, baseDir string, read readFunc) *Config {
	r := &resolver{p: p, baseDir: baseDir, read: read, byPath: map[string]*settingUse{}}
	cfg := &Config{Nodes: nodes, PerCallMetrics: f.PerCallMetrics, Roster: r.roster(f), MeetingNames: f.MeetingNames}
	if modes := MeetingNameModes(); !slices.Contains(modes, f.MeetingNames) {
		p.at("meeting_names", nil, "%q is not one of %s", f.MeetingNames, strings.Join(modes, ", "))
	}
	r.check("defaults", &f.Defaults)
	if len(nodes) == 0 {
		p.at("nodes", nil, "at least one node is required")
	}
	names := map[string]int{}
	urls := map[string]int{}
	for i := range nodes {
		r.node(i, &nodes[i], names, urls)
	}
	r.finish(cfg)
	return cfg
}

func (r *resolver) node(i int, n *Node, names, urls map[string]int) {
	path := fmt.Sprintf("nodes[%d]", i)
	r.identity(i, path, n, names, urls)
	label := n.Name // how defaults-level messages refer to this node
	if label == "" {
		label = path
	}
	r.check(path, n)
	if n.KeepCallsWhenDown == 0 { // set nowhere (0 itself is refused)
		n.KeepCallsWhenDown = DefaultKeepCallsWhenDownProbes * n.ProbeInterval
	}
	r.credentials(path, label, n)
	r.tls(path, label, n)
}

// identity checks the node's name and URL, both unique, and normalises the
// URL.
func (r *resolver) identity(i int, path string, n *Node, names, urls map[string]int) {
	switch {
	case n.Name == "":
		r.p.at(path+".name", nil, "missing; every node needs a unique name (the node label)")
	case !validName(n.Name):
		r.p.at(path+".name", nil, "%q is not a valid node name; use letters, digits, \"_\", \".\" and \"-\"", n.Name)
		n.Name = ""
	default:
		if j, dup := names[n.Name]; dup {
			r.p.at(path+".name", nil, "duplicate node name; nodes[%d] (line %d) already uses it",
				j, r.p.lineOf(fmt.Sprintf("nodes[%d].name", j)))
		} else {
			names[n.Name] = i
		}
	}

	u, err := nodeURL(n.URL)
	if err != nil {
		r.p.at(path+".url", err, "")
		return
	}
	n.URL = u
	if j, dup := urls[u]; dup {
		r.p.at(path+".url", nil, "same node as nodes[%d] (line %d); each node must be listed once",
			j, r.p.lineOf(fmt.Sprintf("nodes[%d].url", j)))
	} else {
		urls[u] = i
	}
}

// check validates the settings that the block at path (defaults or a node)
// writes itself; inherited values are checked where they are written. A
// relation between two durations is checked in a block that sets either,
// so a bad pair in defaults is reported once, at defaults.
func (r *resolver) check(path string, n *Node) {
	set := func(key string) bool { return r.p.set[path+"."+key] }
	at := func(key, format string, args ...any) { r.p.at(path+"."+key, nil, format, args...) }
	if set("connections") && (n.Connections < 1 || n.Connections > MaxConnections) {
		at("connections", "%d is out of range 1..%d (CMS allows 5 event connections per node and Cisco Meeting Management needs one)", n.Connections, MaxConnections)
	}
	if set("capacity_participants") && n.CapacityParticipants < 0 {
		at("capacity_participants", "must not be negative")
	}
	if set("username") {
		switch {
		case n.Username == "":
			at("username", "must not be empty")
		case strings.ContainsAny(n.Username, ":\r\n"):
			// RFC 7617: the user-id of HTTP Basic auth cannot contain ':'.
			at("username", "must not contain ':' or line breaks")
		}
	}
	if set("password") {
		switch {
		case n.Password == "":
			at("password", "must not be empty")
		case strings.ContainsAny(n.Password.Reveal(), "\r\n"):
			at("password", "must be a single line")
		}
	}
	if set("password_file") && n.PasswordFile == "" {
		at("password_file", "must not be empty")
	}
	if set("password") && set("password_file") {
		at("password_file", "set either password or password_file, not both")
	}
	for _, nd := range nodeDurations(n) {
		if why := outOfBounds(nd.key, nd.d); set(nd.key) && why != "" {
			at(nd.key, "%s", why)
		}
	}

	// lo must be below hi (or equal, unless strict).
	rel := func(loKey string, lo time.Duration, hiKey string, hi time.Duration, strict bool) {
		if !set(loKey) && !set(hiKey) || lo <= 0 || hi <= 0 || lo < hi || !strict && lo == hi {
			return
		}
		below, above := "at most", "at least"
		if strict {
			below, above = "less than", "greater than"
		}
		if set(loKey) {
			at(loKey, "must be %s %s (%s), got %s", below, hiKey, hi, lo)
		} else {
			at(hiKey, "must be %s %s (%s), got %s", above, loKey, lo, hi)
		}
	}
	rel("probe_timeout", n.ProbeTimeout, "probe_interval", n.ProbeInterval, true)
	rel("rest.timeout", n.REST.Timeout, "rest.interval", n.REST.Interval, true)
	rel("backoff_min", n.BackoffMin, "backoff_max", n.BackoffMax, false)
}

// credentials checks that the node has a username and settles its
// password: the node's password or password_file replaces both of the
// defaults' (one credential per node, whichever form it takes).
func (r *resolver) credentials(path, label string, n *Node) {
	set := r.p.set
	if !set[path+".username"] && !set["defaults.username"] {
		r.p.at(path, nil, "no username; set username here or in defaults")
	}
	from := path
	if !set[path+".password"] && !set[path+".password_file"] {
		from = "defaults"
	}
	switch password, file := set[from+".password"], set[from+".password_file"]; {
	case password && file:
		// Reported by check.
	case password:
		n.PasswordFile = ""
	case file:
		n.Password = ""
		if n.PasswordFile != "" { // "" is reported by check
			u := r.use(from+".password_file", resolvePath(r.baseDir, n.PasswordFile), label)
			n.PasswordFile, n.Password = u.file, u.password
		}
	default:
		r.p.at(path, nil, "no password; set password or password_file here or in defaults")
	}
}

// tls reads the CA file and notes switched-off verification, each under
// the block that sets it.
func (r *resolver) tls(path, label string, n *Node) {
	if n.TLS.CAFile != "" {
		u := r.use(r.origin(path, "tls.ca_file"), resolvePath(r.baseDir, n.TLS.CAFile), label)
		n.TLS.CAFile, n.TLS.ca = u.file, u.ca
	}
	if n.TLS.InsecureSkipVerify {
		r.use(r.origin(path, "tls.insecure_skip_verify"), "", label)
	}
}

// origin returns the path of the setting key that the node at path uses:
// its own, else the defaults' (a value other than the built-in one is set
// in one of the two).
func (r *resolver) origin(path, key string) string {
	if r.p.set[path+"."+key] {
		return path + "." + key
	}
	return "defaults." + key
}

// use records that node uses the setting at path, reading its file on
// first use.
func (r *resolver) use(path, file, node string) *settingUse {
	u := r.byPath[path]
	if u == nil {
		u = &settingUse{path: path, file: file}
		switch {
		case strings.HasSuffix(path, ".password_file"):
			u.password, u.worldReadable, u.err = readPassword(r.read, file)
		case strings.HasSuffix(path, ".ca_file"):
			u.ca, u.err = readCA(r.read, file)
		}
		r.byPath[path] = u
		r.uses = append(r.uses, u)
	}
	u.users = append(u.users, node)
	return u
}

// finish reports file errors and collects warnings, once per setting.
func (r *resolver) finish(cfg *Config) {
	for _, u := range r.uses {
		who := ""
		if strings.HasPrefix(u.path, "defaults.") { // say which nodes it affects
			who = "for " + plural(len(u.users), "node", "nodes") + " " + strings.Join(u.users, ", ")
		}
		switch {
		case u.err != nil:
			r.p.at(u.path, u.err, "%s", who)
		case u.worldReadable:
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
	return (&Error{File: r.p.file, Line: r.p.lineOf(u.path), Path: u.path, Node: r.p.nodeName(u.path), Msg: msg}).Error()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// validName: node names become label values and log fields, so keep them to a
// plain alphabet that needs no quoting anywhere.
func validName(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == ""
}

// roster compiles the roster block's patterns, anchored like Prometheus
// relabelling regexes, reporting each bad one where it is written.
func (r *resolver) roster(f *file) Roster {
	ro := Roster{BatchInterval: f.Roster.BatchInterval}
	if why := outOfBounds("roster.batch_interval", ro.BatchInterval); why != "" {
		r.p.at("roster.batch_interval", nil, "%s", why)
	}
	compile := func(key string, pats []string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for i, pat := range pats {
			re, err := regexp.Compile("^(?:" + pat + ")$")
			if err != nil {
				r.p.at(fmt.Sprintf("roster.%s[%d]", key, i), nil, "invalid regular expression %q: %v", pat, err)
				continue
			}
			out = append(out, re)
		}
		return out
	}
	ro.Include = compile("include", f.Roster.Include)
	ro.Exclude = compile("exclude", f.Roster.Exclude)
	return ro
}
