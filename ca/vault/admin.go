package vault

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"
)

// EnsureEngines enables the transit engine and a KV version 2 engine at
// the configured mounts unless they are there; a mount of another type at
// either path is refused. It needs an administrator's token.
func (c *Client) EnsureEngines(ctx context.Context) error {
	if err := c.ensureMount(ctx, c.cfg.TransitMount, "transit", nil); err != nil {
		return err
	}
	return c.ensureMount(ctx, c.cfg.KVMount, "kv", map[string]string{"version": "2"})
}

// ensureMount enables a secrets engine at path unless one is there.
func (c *Client) ensureMount(ctx context.Context, path, typ string, opts map[string]string) error {
	mctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	mounts, err := c.api.Sys().ListMountsWithContext(mctx)
	if err != nil {
		return classify(mctx, "list mounts", err, c.cfg)
	}
	if m, ok := mounts[strings.Trim(path, "/")+"/"]; ok {
		if m.Type != typ || (typ == "kv" && m.Options["version"] != "2") {
			return fmt.Errorf("vault: %s is mounted as %s (options %v), not %s %v", path, m.Type, m.Options, typ, opts)
		}
		return nil
	}
	if err := c.api.Sys().MountWithContext(mctx, path, &api.MountInput{Type: typ, Options: opts}); err != nil {
		return classify(mctx, "enable "+typ+" at "+path, err, c.cfg)
	}
	return nil
}

// EnsureKey creates a non-exportable transit key of type typ unless it
// exists, rotates it when asked, and returns its latest version. An
// existing key that is exportable, deletable or of another type is
// refused.
func (c *Client) EnsureKey(ctx context.Context, name, typ string, rotate bool) (int, error) {
	info, ok, err := c.ReadKey(ctx, name)
	if err != nil {
		return 0, err
	}
	if !ok {
		if _, err := c.write(ctx, "create transit key "+name, c.cfg.TransitMount+"/keys/"+name,
			map[string]any{"type": typ, "exportable": false}); err != nil {
			return 0, err
		}
	} else {
		if info.Exportable {
			return 0, fmt.Errorf("vault: transit key %s is exportable: signet refuses a CA key that can leave Vault", name)
		}
		if info.DeletionAllowed {
			return 0, fmt.Errorf("vault: transit key %s allows deletion (deletion_allowed): signet refuses a key that can be deleted and made again under its name; "+
				"set deletion_allowed=false on %s/keys/%s/config", name, c.cfg.TransitMount, name)
		}
		if info.Type != typ {
			return 0, fmt.Errorf("vault: transit key %s is %s, not %s", name, info.Type, typ)
		}
		if rotate {
			if _, err := c.write(ctx, "rotate transit key "+name, c.cfg.TransitMount+"/keys/"+name+"/rotate", nil); err != nil {
				return 0, err
			}
		}
	}
	info, ok, err = c.ReadKey(ctx, name)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("vault: transit key %s vanished after creation", name)
	}
	return info.Latest, nil
}
