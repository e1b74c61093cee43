// Command ${{ values.name }} serves HTTP on $PORT with /healthz and /readyz probes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	// Lines are JSON already; a timestamp prefix would break log parsers.
	log.SetFlags(0)
	healthcheck := flag.Bool("healthcheck", false, "probe /healthz on $PORT and exit 0 if healthy (for Docker HEALTHCHECK in images without curl)")
	flag.Parse()

	port, err := portFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *healthcheck {
		os.Exit(probe(port))
	}

	server := NewServer(Config{
		ServiceName: envOr("SERVICE_NAME", "${{ values.name }}"),
		Version:     envOr("APP_VERSION", "dev"),
		BucketName:  os.Getenv("BUCKET_NAME"),
	})
	httpServer := &http.Server{
		Addr:              ":" + strconv.Itoa(port),
		Handler:           server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	errs := make(chan error, 1)
	go func() {
		log.Printf(`{"level":"info","msg":"listening","port":%d}`, port)
		errs <- httpServer.ListenAndServe()
	}()

	select {
	case err := <-errs:
		log.Fatalf(`{"level":"error","msg":"server failed","error":%q}`, err.Error())
	case <-ctx.Done():
	}

	// Kubernetes keeps routing for a moment after SIGTERM: fail readiness first, then drain.
	log.Print(`{"level":"info","msg":"shutting down"}`)
	server.Ready.Store(false)
	time.Sleep(drainDelay())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf(`{"level":"error","msg":"shutdown failed","error":%q}`, err.Error())
	}
}

func portFromEnv() (int, error) {
	raw := envOr("PORT", "${{ values.port }}")
	port, err := strconv.Atoi(raw)
	if err != nil || port < 1 || port > 65535 {
		return 0, fmt.Errorf("PORT must be a TCP port number, got %q", raw)
	}
	return port, nil
}

func drainDelay() time.Duration {
	ms, err := strconv.Atoi(envOr("SHUTDOWN_DRAIN_MS", "5000"))
	if err != nil || ms < 0 {
		return 5 * time.Second
	}
	return time.Duration(ms) * time.Millisecond
}

func probe(port int) int {
	client := http.Client{Timeout: 3 * time.Second}
	res, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

func envOr(name, fallback string) string {
	if value, ok := os.LookupEnv(name); ok && value != "" {
		return value
	}
	return fallback
}
