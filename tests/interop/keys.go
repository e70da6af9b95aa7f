package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"filippo.io/torchwood"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// resolveVkey returns -vkey (a key or a file holding one), else the key the source serves.
func resolveVkey(ctx context.Context, arg string, src *source) (string, error) {
	if arg != "" {
		if content, err := os.ReadFile(arg); err == nil {
			return strings.TrimSpace(string(content)), nil
		}
		return strings.TrimSpace(arg), nil
	}
	if src == nil {
		return "", errors.New("proof files without a log source need -vkey")
	}
	content, err := src.reader.ReadEndpoint(ctx, "vkey")
	if err != nil {
		return "", fmt.Errorf("no -vkey given and the source has none: %w", err)
	}
	fmt.Printf("note: using the vkey found in %s (pass -vkey to check the log's identity too)\n", src.name)
	return strings.TrimSpace(string(content)), nil
}

// keyring holds the log's key (x/mod/sumdb/note) and the witnesses' cosignature keys
// (transparency-dev/formats, c2sp.org/tlog-cosignature).
type keyring struct {
	log       note.Verifier
	witnesses []note.Verifier
}

func newKeyring(vkey string, witnessKeys []string) (*keyring, error) {
	logKey, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("the log's vkey %q is not a signed-note verifier key: %w", vkey, err)
	}
	keys := &keyring{log: logKey}
	for _, w := range witnessKeys {
		v, err := fnote.NewVerifierForCosignatureV1(strings.TrimSpace(w))
		if err != nil {
			return nil, fmt.Errorf("witness key %q is not a cosignature/v1 verifier key: %w", w, err)
		}
		keys.witnesses = append(keys.witnesses, v)
	}
	return keys, nil
}

// openCheckpoint verifies a signed checkpoint note: the log's signature must verify, a
// cosignature by a given witness must verify, and the text must parse as a
// c2sp.org/tlog-checkpoint whose origin is the log key's name. With requireWitnesses, every
// given witness must have cosigned it (the log's latest checkpoint; the older checkpoints a
// proof is relative to need not carry cosignatures).
func (k *keyring) openCheckpoint(what string, raw []byte, requireWitnesses bool) (torchwood.Checkpoint, *note.Note, error) {
	all := append([]note.Verifier{k.log}, k.witnesses...)
	n, err := note.Open(raw, note.VerifierList(all...))
	if err != nil {
		var invalid *note.InvalidSignatureError
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &invalid):
			return torchwood.Checkpoint{}, nil, failf("%s: signature by %s (key hash %08x) does not verify", what, invalid.Name, invalid.Hash)
		case errors.As(err, &unverified):
			return torchwood.Checkpoint{}, nil, failf("%s: no signature by the log's key %s", what, k.log.Name())
		default:
			return torchwood.Checkpoint{}, nil, failf("%s: not a signed note: %v", what, err)
		}
	}
	signedBy := map[string]bool{}
	for _, sig := range n.Sigs {
		signedBy[fmt.Sprintf("%s+%08x", sig.Name, sig.Hash)] = true
	}
	if !signedBy[fmt.Sprintf("%s+%08x", k.log.Name(), k.log.KeyHash())] {
		return torchwood.Checkpoint{}, nil, failf("%s: no signature by the log's key %s", what, k.log.Name())
	}
	for _, w := range k.witnesses {
		if !signedBy[fmt.Sprintf("%s+%08x", w.Name(), w.KeyHash())] && requireWitnesses {
			return torchwood.Checkpoint{}, nil, failf("%s: no cosignature by witness %s", what, w.Name())
		}
		for _, sig := range n.Sigs {
			if sig.Name == w.Name() && sig.Hash == w.KeyHash() {
				when, err := fnote.CoSigV1Timestamp(sig)
				if err != nil {
					return torchwood.Checkpoint{}, nil, failf("%s: cosignature by %s: %v", what, w.Name(), err)
				}
				fmt.Printf("ok: %s cosigned by witness %s at %s (cosignature/v1)\n", what, w.Name(), when.UTC().Format("2006-01-02T15:04:05Z"))
			}
		}
	}
	checkpoint, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return torchwood.Checkpoint{}, nil, failf("%s: not a c2sp.org/tlog-checkpoint: %v", what, err)
	}
	if checkpoint.Origin != k.log.Name() {
		return torchwood.Checkpoint{}, nil, failf("%s: origin %q is not the log key's name %q", what, checkpoint.Origin, k.log.Name())
	}
	return checkpoint, n, nil
}
