package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %v (%q)", err, rec.Body.String())
	}
	return body
}

func TestHealthz(t *testing.T) {
	rec := get(t, NewServer(Config{}).Handler(), http.MethodGet, "/healthz")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if got := decode(t, rec)["status"]; got != "ok" {
		t.Fatalf("status field = %v, want ok", got)
	}
}

func TestReadyzFollowsShutdown(t *testing.T) {
	server := NewServer(Config{})
	h := server.Handler()
	if rec := get(t, h, http.MethodGet, "/readyz"); rec.Code != http.StatusOK {
		t.Fatalf("ready: status = %d, want 200", rec.Code)
	}
	server.Ready.Store(false)
	rec := get(t, h, http.MethodGet, "/readyz")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("shutting down: status = %d, want 503", rec.Code)
	}
	if got := decode(t, rec)["status"]; got != "shutting down" {
		t.Fatalf("status field = %v", got)
	}
}

func TestRootDescribesService(t *testing.T) {
	rec := get(t, NewServer(Config{ServiceName: "test-svc", Version: "1.2.3", BucketName: "test-svc-dev"}).Handler(), http.MethodGet, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content-type = %q", ct)
	}
	body := decode(t, rec)
	if body["service"] != "test-svc" || body["version"] != "1.2.3" || body["bucket"] != "test-svc-dev" {
		t.Fatalf("body = %v", body)
	}
}

func TestRootWithoutBucketReportsNull(t *testing.T) {
	body := decode(t, get(t, NewServer(Config{ServiceName: "s"}).Handler(), http.MethodGet, "/"))
	if v, ok := body["bucket"]; !ok || v != nil {
		t.Fatalf("bucket = %v (present %v), want null", v, ok)
	}
}

func TestUnknownPathIs404(t *testing.T) {
	if rec := get(t, NewServer(Config{}).Handler(), http.MethodGet, "/nope"); rec.Code != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", rec.Code)
	}
}

func TestOnlyGetAndHead(t *testing.T) {
	rec := get(t, NewServer(Config{}).Handler(), http.MethodPost, "/healthz")
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status = %d, want 405", rec.Code)
	}
	if allow := rec.Header().Get("Allow"); allow != "GET, HEAD" {
		t.Fatalf("Allow = %q", allow)
	}
}

// The whole stack over a real socket, as the kubelet's probes see it.
func TestOverHTTP(t *testing.T) {
	ts := httptest.NewServer(NewServer(Config{}).Handler())
	defer ts.Close()
	res, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
}
