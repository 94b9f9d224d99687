// Command aliyunsim serves the Alibaba Cloud simulator (package e2e/aliyunsim) on a port, for
// end-to-end tests and demos. When it is ready it prints exactly one line to stdout,
//
//	aliyunsim listening on http://HOST:PORT
//
// and logs everything else to stderr. SIGINT or SIGTERM shut it down.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	if err := run(os.Args[1:], os.Stdout, os.Stderr, stop); errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "aliyunsim:", err)
		os.Exit(2)
	}
}

// run serves until stop delivers a signal; stdout gets only the ready line.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) error {
	cfg, listen, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
	cfg.Logf = logger.Printf
	sim, err := aliyunsim.New(cfg)
	if err != nil {
		return err
	}
	url, err := sim.Start(listen)
	if err != nil {
		_ = sim.Close()
		return err
	}
	if addr := sim.DNSAddr(); addr != "" {
		logger.Printf("aliyunsim: DNS on udp://%s", addr)
	}
	fmt.Fprintf(stdout, "aliyunsim listening on %s\n", url)

	s := <-stop
	logger.Printf("aliyunsim: %v, shutting down", s)
	return sim.Close()
}

func parseFlags(args []string, stderr io.Writer) (aliyunsim.Config, string, error) {
	fs := flag.NewFlagSet("aliyunsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP listen address (port 0 picks one)")
	simFlags := aliyunsim.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return aliyunsim.Config{}, "", err
	}
	if fs.NArg() > 0 {
		return aliyunsim.Config{}, "", fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	cfg, err := simFlags.Config(true)
	return cfg, *listen, err
}
