// Command sandbox brings up the whole system — a real kube-apiserver and
// etcd, cert-manager's controllers, the Alibaba Cloud simulator and the
// issuer binary — writes a kubeconfig, applies deploy/examples as the demo
// does (the credentials Secret, the aliyun-cas AliyunCASClusterIssuer
// pointed at the simulator, the example Certificate and Ingress), waits
// until the issuer is Ready and the examples are issued, prints one line
//
//	sandbox ready simulator=http://HOST:PORT kubeconfig=PATH
//
// and the commands to try, and runs until interrupted, then stops
// everything and removes its temporary files. --bare skips the examples:
// an empty cluster. It takes every flag of the simulator command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

func main() {
	if err := run(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "where to write a kubeconfig for kubectl (required)")
	issuerBinary := fs.String("issuer-binary", "", "a prebuilt issuer binary (built from main.go when empty)")
	issuerArgs := fs.String("issuer-args", "", "extra flags for the issuer, space separated")
	noApprover := fs.Bool("no-approver", false, "leave cert-manager's approver off: requests stay unapproved")
	bare := fs.Bool("bare", false, "apply nothing: no credentials Secret, issuer or example certificates")
	simFlags := aliyunsim.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kubeconfig == "" {
		return errors.New("--kubeconfig PATH is required")
	}
	simCfg, err := simFlags.Config(false)
	if err != nil {
		return err
	}
	if len(simCfg.Zones) == 0 {
		simCfg.Zones = []string{"example.com", "example.org"}
	}
	opts := framework.Options{Sim: simCfg, IssuerBinary: *issuerBinary, IssuerArgs: strings.Fields(*issuerArgs)}
	if *noApprover {
		for _, c := range framework.DefaultCertManagerControllers {
			if c != framework.Approver {
				opts.CertManager.Controllers = append(opts.CertManager.Controllers, c)
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	f, err := framework.Start(startCtx, opts)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		if err := f.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
		}
		_ = os.Remove(*kubeconfig)
	}()
	kc, err := os.ReadFile(f.Kubeconfig)
	if err != nil {
		return err
	}
	path, err := filepath.Abs(*kubeconfig)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return err
	}
	if !*bare {
		applyCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		err := applyExamples(applyCtx, f, !*noApprover)
		cancel()
		if err != nil {
			return err
		}
	}
	fmt.Printf("sandbox ready simulator=%s kubeconfig=%s\n", f.SimURL, path)
	if !*bare {
		printTryThis(os.Stdout, f.SimURL, path)
	}
	fmt.Fprintf(os.Stderr, "sandbox: AccessKey %s for the simulator; logs in %s; Ctrl-C to stop\n", framework.SimAccessKeyID, f.WorkDir)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "sandbox: stopping")
	return nil
}
