// Package config loads the cms_exporter configuration file: which CMS nodes
// (Call Bridges) to connect to, and how.
//
// The file is strict YAML: unknown keys, bad durations and bad URLs are
// errors, because a typo in an exporter config otherwise shows up weeks later
// as a silently missing node. Every error names the file and, wherever the
// problem has them, the line and the field path; all problems are reported
// together (errors.Join) so an operator fixes a file in one pass rather than
// one error per restart.
//
// Inheritance (defaults → node) and file references (password_file, ca_file)
// are resolved by the loader, so the rest of the exporter only ever sees
// fully effective Node values, and a reload can compare old and new nodes
// with reflect.DeepEqual to restart only what changed: a Node holds the
// password and the CA file's content, not only the files' names.
//
// Passwords are held in Secret, which renders as "<secret>" however it is
// printed or marshalled, so logging a Config cannot leak credentials.
package config
