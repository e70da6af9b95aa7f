// Command tlogcheck verifies a Consentry ledger with code Consentry did not write.
//
// Consentry's own verifier (consentry ledger verify) could share a misreading of a spec with
// the code that writes the log; this program checks the same artefacts with independent,
// widely used Go implementations, so a format drift shows up in CI:
//
//   - golang.org/x/mod/sumdb/note: c2sp.org/signed-note signatures and verifier keys;
//   - github.com/transparency-dev/formats/note: c2sp.org/tlog-cosignature (cosignature/v1);
//   - filippo.io/torchwood: c2sp.org/tlog-checkpoint parsing, c2sp.org/tlog-tiles paths,
//     entry bundles, the tile client and its HTTP fetcher;
//   - golang.org/x/mod/sumdb/tlog: tile hash reading (every tile is checked against the
//     signed root), tree hashes, record and tree proofs;
//   - github.com/transparency-dev/merkle: RFC 6962 / RFC 9162 leaf hashes, compact ranges and
//     inclusion / consistency proof verification.
//
// Usage:
//
//	tlogcheck [-vkey KEY|FILE] [-witness VKEY]... [-inclusion FILE]... [-consistency FILE]... [DIR|URL]
//
// Exit status: 0 everything verified, 1 something did not (the message names it), 2 usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// failure is a verification that did not pass (exit 1), as opposed to a usage error (exit 2).
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func failf(format string, args ...any) error { return &failure{fmt.Sprintf(format, args...)} }

func main() {
	var witnesses, inclusions, consistencies multiFlag
	vkeyArg := flag.String("vkey", "", "the log's verifier `KEY`, or a file holding it (default: the source's vkey)")
	flag.Var(&witnesses, "witness", "a witness's cosigner verifier `KEY` (repeatable): its cosignature must be on the checkpoint and valid")
	flag.Var(&inclusions, "inclusion", "a `FILE` written by consentry ledger proof inclusion --json, or a ledger's /receipt/N (repeatable)")
	flag.Var(&consistencies, "consistency", "a `FILE` written by consentry ledger proof consistency --json (repeatable)")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tlogcheck [flags] [EXPORT_DIR | LEDGER_URL]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 1 || (flag.NArg() == 0 && len(inclusions)+len(consistencies) == 0) {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	err := run(ctx, flag.Arg(0), *vkeyArg, witnesses, inclusions, consistencies)
	var f *failure
	switch {
	case err == nil:
		fmt.Println("OK: everything verified with independent implementations")
	case errors.As(err, &f):
		fmt.Fprintln(os.Stderr, "FAIL:", f.msg)
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, location, vkeyArg string, witnesses, inclusions, consistencies []string) error {
	var src *source
	if location != "" {
		var err error
		if src, err = openSource(location); err != nil {
			return err
		}
	}
	vkey, err := resolveVkey(ctx, vkeyArg, src)
	if err != nil {
		return err
	}
	keys, err := newKeyring(vkey, witnesses)
	if err != nil {
		return err
	}
	var log *verifiedLog
	if src != nil {
		if log, err = verifyLog(ctx, src, keys); err != nil {
			return err
		}
	}
	for _, path := range inclusions {
		if err := verifyInclusionFile(ctx, path, keys, log); err != nil {
			return err
		}
	}
	for _, path := range consistencies {
		if err := verifyConsistencyFile(ctx, path, keys, log); err != nil {
			return err
		}
	}
	return nil
}
