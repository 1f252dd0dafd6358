package vaultdev

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Cluster is a real Vault HA cluster: n `vault server -config` processes
// with integrated (raft) storage on loopback ports, initialised with one
// unseal key, unsealed and joined. Raft runs with performance_multiplier =
// 1, so a new leader is elected within about a second of losing one.
type Cluster struct {
	// Nodes are the servers; each has the cluster's root token and unseal key.
	Nodes []*Server
	// RootToken is the root token of the cluster's initialisation.
	RootToken string

	bin, dir string
	// started is told of every node started, to stop it when the test ends.
	started    func(*Server)
	beforeJoin func(s *Server, node, attempt int)
	restarts   int
}

// clusterTimeout bounds forming the cluster.
const clusterTimeout = 60 * time.Second

// Joining a node is bounded by joinTimeout and tried joinAttempts times,
// each time on a fresh node: Vault 1.21 once (a CI run on 2026-11-30, on a
// busy machine) left a node that had just joined unable to unseal,
// answering "failed to create cipher: crypto/aes: invalid key size 0"
// until the cluster's deadline (hashicorp/vault#25360 describes the same).
const (
	joinTimeout  = 12 * time.Second
	joinAttempts = 3
)

// StartCluster starts an n-node cluster (n >= 1) and returns once node 0
// is the active node and every other node is an unsealed standby. Nodes
// are stopped when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return startCluster(t, n, nil)
}

// startCluster is StartCluster, calling beforeJoin (when set) before each
// attempt to join a node.
func startCluster(t testing.TB, n int, beforeJoin func(s *Server, node, attempt int)) *Cluster {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{bin: bin, dir: t.TempDir(), started: func(s *Server) { t.Cleanup(s.Stop) }, beforeJoin: beforeJoin}
	for i := range n {
		s, err := c.startNode(i)
		if err != nil {
			t.Fatalf("vaultdev: node %d: %v", i, err)
		}
		c.Nodes = append(c.Nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	if err := c.form(ctx); err != nil {
		for _, s := range c.Nodes {
			t.Logf("%s log:\n%s", s.Addr, tail(readLog(s.LogFile)))
		}
		t.Fatalf("vaultdev: forming the cluster: %v", err)
	}
	return c
}

// startNode writes node i's configuration in a directory of its own and
// starts it; it returns once the node answers /v1/sys/health
// (uninitialised or sealed).
func (c *Cluster) startNode(i int) (*Server, error) {
	bin := c.bin
	port, err := FreePortPair(nil)
	if err != nil {
		return nil, err
	}
	c.restarts++
	nodeDir := filepath.Join(c.dir, fmt.Sprintf("n%d-%d", i, c.restarts))
	if err := os.MkdirAll(filepath.Join(nodeDir, "raft"), 0o700); err != nil {
		return nil, err
	}
	api, cluster := "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(port+1)
	cfg := fmt.Sprintf(`storage "raft" {
  path = %q
  node_id = "n%d"
  performance_multiplier = 1
}
listener "tcp" {
  address = %q
  cluster_address = %q
  tls_disable = true
}
api_addr = "http://%s"
cluster_addr = "http://%s"
disable_mlock = true
`, filepath.Join(nodeDir, "raft"), i, api, cluster, api, cluster)
	cfgPath := filepath.Join(nodeDir, "vault.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(nodeDir, "vault.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "server", "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = serverEnv(nodeDir)
	cmd.Dir = nodeDir
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Addr: "http://" + api, LogFile: logPath, cmd: cmd, exited: make(chan struct{}),
		client: &http.Client{Timeout: 10 * time.Second}}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	c.started(s)
	for deadline := time.Now().Add(startTimeout); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("vault exited during startup; log %s:\n%s", logPath, tail(readLog(logPath)))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		code, err := s.Health(ctx)
		cancel()
		if err == nil && code != 0 {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("vault did not answer within %v; log %s:\n%s", startTimeout, logPath, tail(readLog(logPath)))
		}
	}
}

// form initialises node 0 with one unseal key, unseals it, and joins and
// unseals every other node.
func (c *Cluster) form(ctx context.Context) error {
	leader := c.Nodes[0]
	body, _ := json.Marshal(map[string]int{"secret_shares": 1, "secret_threshold": 1})
	resp, err := leader.do(ctx, http.MethodPut, "/v1/sys/init", body, false)
	if err != nil {
		return err
	}
	var init struct {
		Keys      []string `json:"keys_base64"`
		RootToken string   `json:"root_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&init)
	resp.Body.Close()
	if err != nil || len(init.Keys) != 1 || init.RootToken == "" {
		return fmt.Errorf("init: status %d, %v", resp.StatusCode, err)
	}
	c.RootToken = init.RootToken
	for _, s := range c.Nodes {
		s.RootToken, s.UnsealKey = init.RootToken, init.Keys[0]
	}
	if err := leader.Unseal(ctx); err != nil {
		return err
	}
	if err := leader.waitHealth(ctx, http.StatusOK); err != nil {
		return fmt.Errorf("node 0 did not become active: %w", err)
	}
	// Autopilot promotes a joined node to voter only after it has been
	// healthy for server_stabilization_time (10 s by default): make it 1 s.
	auto, _ := json.Marshal(map[string]string{"server_stabilization_time": "1s"})
	resp, err = leader.do(ctx, http.MethodPost, "/v1/sys/storage/raft/autopilot/configuration", auto, true)
	if err != nil {
		return err
	}
	if err := checkStatus("autopilot configuration", resp); err != nil {
		return err
	}
	for i := 1; i < len(c.Nodes); i++ {
		for attempt := 1; ; attempt++ {
			if c.beforeJoin != nil {
				c.beforeJoin(c.Nodes[i], i, attempt)
			}
			actx, cancel := context.WithTimeout(ctx, joinTimeout)
			joinErr := c.Nodes[i].join(actx, leader)
			cancel()
			if joinErr == nil {
				break
			}
			if attempt == joinAttempts || ctx.Err() != nil {
				return fmt.Errorf("node %d: %w", i, joinErr)
			}
			// A fresh node in its place: the stale one leaves the raft
			// configuration first, so that the new one joins under its ID.
			c.Nodes[i].Stop()
			_ = leader.removePeer(ctx, fmt.Sprintf("n%d", i))
			fresh, err := c.startNode(i)
			if err != nil {
				return fmt.Errorf("node %d: starting it again after %v: %w", i, joinErr, err)
			}
			fresh.RootToken, fresh.UnsealKey = c.RootToken, leader.UnsealKey
			c.Nodes[i] = fresh
		}
	}
	return c.waitVoters(ctx)
}

// join makes s join leader's raft cluster, unseals it and waits until it
// is an unsealed standby.
func (s *Server) join(ctx context.Context, leader *Server) error {
	join, _ := json.Marshal(map[string]string{"leader_api_addr": leader.Addr})
	resp, err := s.do(ctx, http.MethodPut, "/v1/sys/storage/raft/join", join, false)
	if err != nil {
		return err
	}
	if err := checkStatus("raft join", resp); err != nil {
		return err
	}
	if err := s.unsealJoined(ctx); err != nil {
		return err
	}
	if err := s.waitHealth(ctx, http.StatusTooManyRequests); err != nil { // 429: unsealed standby
		return fmt.Errorf("it did not become a standby: %w", err)
	}
	return nil
}

// removePeer removes the raft server id from the cluster's configuration.
func (s *Server) removePeer(ctx context.Context, id string) error {
	body, _ := json.Marshal(map[string]string{"server_id": id})
	resp, err := s.do(ctx, http.MethodPost, "/v1/sys/storage/raft/remove-peer", body, true)
	if err != nil {
		return err
	}
	return checkStatus("raft remove-peer", resp)
}

// waitVoters waits until every node is a raft voter, so that the cluster
// survives losing any one of them.
func (c *Cluster) waitVoters(ctx context.Context) error {
	leader := c.Nodes[0]
	voters := 0
	for {
		resp, err := leader.do(ctx, http.MethodGet, "/v1/sys/storage/raft/configuration", nil, true)
		if err == nil {
			var cfg struct {
				Data struct {
					Config struct {
						Servers []struct {
							Voter bool `json:"voter"`
						} `json:"servers"`
					} `json:"config"`
				} `json:"data"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&cfg)
			resp.Body.Close()
			voters = 0
			for _, s := range cfg.Data.Config.Servers {
				if s.Voter {
					voters++
				}
			}
			if voters == len(c.Nodes) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d nodes are voters: %w", voters, len(c.Nodes), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// unsealJoined unseals a node that just joined: until it has the raft
// data it may answer that it is still sealed, so retry until it is not.
func (s *Server) unsealJoined(ctx context.Context) error {
	for {
		err := s.Unseal(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("unseal: %w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitHealth waits until /v1/sys/health answers want.
func (s *Server) waitHealth(ctx context.Context, want int) error {
	last := 0
	for {
		code, _ := s.Health(ctx)
		if code == want {
			return nil
		}
		last = code
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: health %d, want %d", ctx.Err(), last, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Active returns the node that reports itself active, waiting up to the
// context's end for one.
func (c *Cluster) Active(ctx context.Context) (*Server, error) {
	for {
		for _, s := range c.Nodes {
			select {
			case <-s.exited:
				continue
			default:
			}
			if code, _ := s.Health(ctx); code == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("vaultdev: no active node: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Addrs are the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, s := range c.Nodes {
		out = append(out, s.Addr[len("http://"):])
	}
	return out
}
