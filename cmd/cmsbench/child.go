package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// child is the server process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan event
	url    string
	ca     []byte
	once   sync.Once
}

// startChild re-executes this binary as the server and waits until it
// listens.
func startChild(stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.Command(exe, "serve")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	c := &child{cmd: cmd, stdin: stdin, events: make(chan event, 16)}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = event{Event: "error", Err: fmt.Sprintf("server said %q: %v", sc.Text(), err)}
			}
			c.events <- e
		}
	}()
	e, err := c.expect("listening", 30*time.Second)
	if err != nil {
		c.close()
		return nil, err
	}
	c.url, c.ca = e.URL, e.CA
	return c, nil
}

// close ends the server: its stdin closes, which ends it; it is killed
// should it linger.
func (c *child) close() {
	c.once.Do(func() {
		c.stdin.Close()
		done := make(chan struct{})
		go func() {
			_ = c.cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
}

func (c *child) send(cmd command) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("encode command: %w", err)
	}
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("send command to the server: %w", err)
	}
	return nil
}

// errServer is a failure the server reported: a protocol fault of the
// client, or its own.
var errServer = errors.New("server")

// expect waits for the event named kind; an error event, another event,
// the server's end or the timeout is an error.
func (c *child) expect(kind string, timeout time.Duration) (event, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case e, ok := <-c.events:
		switch {
		case !ok:
			return event{}, fmt.Errorf("%w: ended while %q was awaited", errServer, kind)
		case e.Event == "error":
			return e, fmt.Errorf("%w: %s", errServer, e.Err)
		case e.Event != kind:
			return e, fmt.Errorf("%w: said %q, %q was awaited", errServer, e.Event, kind)
		}
		return e, nil
	case <-t.C:
		return event{}, fmt.Errorf("%w: no %q within %s", errServer, kind, timeout)
	}
}
