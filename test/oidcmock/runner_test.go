package oidcmock_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/signet-dev/signet/test/oidcmock"
)

func TestRunnerEndpoint(t *testing.T) {
	iss := start(t)
	iss.SetRunnerClaims(oidcmock.GitHubClaims("octo/gadget"))
	// ACTIONS_ID_TOKEN_REQUEST_URL already carries a query.
	requestURL := iss.URL() + "/token?api-version=2.0"

	tests := []struct {
		name       string
		url        string
		auth       string // Authorization header; empty sends none
		wantStatus int
		wantAud    string // checked by verifying with this client ID
	}{
		{"sigstore audience", requestURL + "&audience=sigstore", "bearer " + iss.RequestToken(), http.StatusOK, "sigstore"},
		{"Bearer capitalised", requestURL + "&audience=sigstore", "Bearer " + iss.RequestToken(), http.StatusOK, "sigstore"},
		{"custom audience", requestURL + "&audience=https%3A%2F%2Fsignet.example", "bearer " + iss.RequestToken(), http.StatusOK, "https://signet.example"},
		{"no audience defaults to issuer URL", requestURL, "bearer " + iss.RequestToken(), http.StatusOK, iss.URL()},
		{"wrong bearer", requestURL + "&audience=sigstore", "bearer not-the-token", http.StatusUnauthorized, ""},
		{"no Authorization header", requestURL + "&audience=sigstore", "", http.StatusUnauthorized, ""},
		{"wrong scheme", requestURL + "&audience=sigstore", "Basic " + iss.RequestToken(), http.StatusUnauthorized, ""},
		{"bare token", requestURL + "&audience=sigstore", iss.RequestToken(), http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tt.wantStatus != http.StatusOK {
				var e struct{ Code, Message string }
				if err := json.Unmarshal(body, &e); err != nil || e.Code == "" {
					t.Errorf("error body %q is not a JSON error (%v)", body, err)
				}
				return
			}
			var out struct {
				Value string `json:"value"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("decode %q: %v", body, err)
			}
			idt, err := verifier(t, iss.URL(), tt.wantAud).Verify(t.Context(), out.Value)
			if err != nil {
				t.Fatalf("Verify with audience %q: %v", tt.wantAud, err)
			}
			if want := "repo:octo/gadget:ref:refs/heads/main"; idt.Subject != want {
				t.Errorf("sub = %q, want %q (from SetRunnerClaims)", idt.Subject, want)
			}
			if len(idt.Audience) != 1 || idt.Audience[0] != tt.wantAud {
				t.Errorf("aud = %v, want [%q]", idt.Audience, tt.wantAud)
			}
		})
	}
}

func TestRunnerEndpointRejectsPost(t *testing.T) {
	iss := start(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, iss.URL()+"/token?audience=sigstore", nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Authorization", "bearer "+iss.RequestToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status %d, want 405", resp.StatusCode)
	}
}
