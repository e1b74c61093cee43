package main

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
)

// Config is what the service reports about itself on /.
type Config struct {
	ServiceName string
	Version     string
	BucketName  string
}

// Server holds the HTTP handlers. Ready is cleared on shutdown so the readiness
// probe fails before the listener closes and load balancers stop routing to us.
type Server struct {
	config Config
	Ready  atomic.Bool
}

// NewServer returns a server that is ready to receive traffic.
func NewServer(config Config) *Server {
	s := &Server{config: config}
	s.Ready.Store(true)
	return s
}

// Handler routes requests; only GET and HEAD are served.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.getOnly(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	mux.HandleFunc("/readyz", s.getOnly(func(w http.ResponseWriter, r *http.Request) {
		if s.Ready.Load() {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	}))
	mux.HandleFunc("/", s.getOnly(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
			return
		}
		var bucket *string
		if s.config.BucketName != "" {
			bucket = &s.config.BucketName
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"service": s.config.ServiceName,
			"version": s.config.Version,
			"bucket":  bucket,
		})
	}))
	return mux
}

func (s *Server) getOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
