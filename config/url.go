package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// nodeURL checks a node's url and returns it normalised to
// "https://host[:port]". The API (/api/v1/…) and events (wss://…/events/v1)
// endpoints share host and port, so only the base is configurable; a path
// would be silently ignored or doubled, hence an error.
//
// Errors never echo a URL that may carry credentials.
func nodeURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("missing; want https://host[:port]")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if strings.Contains(raw, "@") || !errors.As(err, &ue) {
			return "", errors.New("not a valid URL; want https://host[:port]")
		}
		return "", fmt.Errorf("not a valid URL: %w", ue.Err)
	}
	if u.Scheme == "" || u.Opaque != "" {
		if strings.Contains(raw, "@") {
			return "", errors.New("want https://host[:port]")
		}
		return "", fmt.Errorf("want https://host[:port], got %q", raw)
	}
	if u.Scheme != "https" {
		hint := ""
		if u.Scheme == "wss" {
			hint = " (the events URL wss://… is derived from it)"
		}
		return "", fmt.Errorf("scheme must be https, got %q%s", u.Scheme, hint)
	}
	if u.User != nil {
		return "", errors.New("must not contain user information; use username and password/password_file")
	}
	if u.Hostname() == "" {
		return "", errors.New("missing host; want https://host[:port]")
	}
	if strings.HasSuffix(u.Host, ":") {
		return "", errors.New("empty port")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port must be 1-65535, got %q", p)
		}
	}
	if u.Path != "" && u.Path != "/" {
		return "", fmt.Errorf("must not have a path, got %q; the API and events paths are fixed", u.Path)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "", errors.New("must not have a query")
	}
	if u.Fragment != "" {
		return "", errors.New("must not have a fragment")
	}
	return "https://" + u.Host, nil
}
