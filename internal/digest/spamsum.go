package digest

import "strconv"

// Spamsum computes ssdeep's context-triggered piecewise hash ("spamsum",
// Kornblum 2006) of a stream, byte for byte what the ssdeep 2.14 command
// prints. It is streaming: instead of hashing the input again with a smaller
// block size when a signature comes out too short, it keeps the signature of
// every candidate block size (3, 6, 12, … 3·2^30) in step and picks one at the
// end. Candidates too small ever to be picked are dropped as the input grows,
// so only two or three are live at a time.
//
// A rolling hash over the last 7 bytes marks trigger points; a trigger for
// block size b is where the rolling hash ≡ b-1 (mod b). At each trigger a
// block size appends one base64 character, a 6-bit FNV-style hash of the
// bytes since its last trigger, to its signature (up to 64 characters). The
// second half of a result is the signature of twice the block size, cut to
// 32 characters, for which a separate running hash is kept.
type Spamsum struct {
	roll  rollingHash
	total uint64 // bytes written so far

	first, end int // the live block sizes: blocks[first:end]
	// skipMask skips, cheaply, the rolling hashes that cannot trigger the
	// smallest live block size (which is 3·2^first).
	skipMask uint32
	blocks   [numBlockSizes]blockSignature

	// After the largest block size has had its first trigger there is no
	// larger one to start; lastSum stands in for its hash.
	needLastSum bool
	lastSum     byte
}

const (
	spamsumLength  = 64 // characters in a block size's signature, at most
	minBlockSize   = 3
	numBlockSizes  = 31
	sumInit        = 0x27 // FNV-1 offset basis 0x28021967, modulo 64
	sumPrime       = 0x93 // FNV prime 0x01000193, modulo 256
	rollWindowSize = 7
	// spamsumMaxInput is ssdeep's limit: the largest block size times the
	// signature length. Longer inputs have no ssdeep value.
	spamsumMaxInput = uint64(minBlockSize) << (numBlockSizes - 1) * spamsumLength
)

const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func blockSize(i int) uint32 { return minBlockSize << i }

// blockSignature is the signature being built for one block size.
type blockSignature struct {
	sig    [spamsumLength]byte // base64 characters
	sigLen int
	// overflow is the character a trigger made once sig was full
	// (sigLen == spamsumLength-1): the last piece covers the rest of the
	// input. 0 when there is none.
	overflow byte
	sum      byte // hash of the bytes since the last trigger
	// halfSum is sum for the half-length signature: it stops being reset
	// once the signature has half its characters, so the 32nd character
	// covers the rest of the input. halfChar is the character it gave at the
	// latest trigger since then, 0 when there is none.
	halfSum  byte
	halfChar byte
}

// rollingHash is spamsum's Adler-like hash of the last 7 bytes.
type rollingHash struct {
	window     [rollWindowSize]byte
	h1, h2, h3 uint32
	pos        int
}

func (r *rollingHash) add(c byte) uint32 {
	r.h2 -= r.h1
	r.h2 += rollWindowSize * uint32(c)
	r.h1 += uint32(c)
	r.h1 -= uint32(r.window[r.pos])
	r.window[r.pos] = c
	r.pos++
	if r.pos == rollWindowSize {
		r.pos = 0
	}
	r.h3 = r.h3<<5 ^ uint32(c)
	return r.h1 + r.h2 + r.h3
}

func (r *rollingHash) sum() uint32 { return r.h1 + r.h2 + r.h3 }

// sumStep folds one byte into a 6-bit signature hash.
func sumStep(h, c byte) byte { return (h*sumPrime ^ c) & 63 }

// NewSpamsum returns a Spamsum ready for input.
func NewSpamsum() *Spamsum {
	s := new(Spamsum)
	s.Reset()
	return s
}

// Reset forgets all input.
func (s *Spamsum) Reset() {
	*s = Spamsum{end: 1}
	s.blocks[0].sum = sumInit
	s.blocks[0].halfSum = sumInit
}

// Write adds p to the input. It never fails.
func (s *Spamsum) Write(p []byte) (int, error) {
	// Counting all of p up front lets total run ahead of the bytes stepped
	// through, but never past the final length, and dropBlockSize needs
	// no more than a lower bound of that.
	s.total += uint64(len(p))
	for _, c := range p {
		s.step(c)
	}
	return len(p), nil
}

func (s *Spamsum) step(c byte) {
	h := s.roll.add(c)
	for i := s.first; i < s.end; i++ {
		b := &s.blocks[i]
		b.sum = sumStep(b.sum, c)
		b.halfSum = sumStep(b.halfSum, c)
	}
	if s.needLastSum {
		s.lastSum = sumStep(s.lastSum, c)
	}
	// A trigger for block size 3·2^i is h+1 ≡ 0 (mod 3·2^i). h+1 must not
	// wrap around to 0, which would look like a trigger for all of them.
	if h == 0xffffffff {
		return
	}
	if (h+1)/minBlockSize&s.skipMask != 0 || (h+1)%minBlockSize != 0 {
		return
	}
	for i := s.first; i < s.end; i++ {
		// A trigger for a block size is one for every smaller one: the first
		// miss ends the loop.
		if h%blockSize(i) != blockSize(i)-1 {
			break
		}
		b := &s.blocks[i]
		if b.sigLen == 0 {
			s.startNextBlockSize()
		}
		b.overflow = base64Chars[b.sum]
		b.halfChar = base64Chars[b.halfSum]
		if b.sigLen < spamsumLength-1 {
			// Room left: the character is final; start the next piece.
			b.sig[b.sigLen] = b.overflow
			b.sigLen++
			b.overflow = 0
			b.sum = sumInit
			if b.sigLen < spamsumLength/2 {
				b.halfSum = sumInit
				b.halfChar = 0
			}
		} else {
			s.dropBlockSize()
		}
	}
}

// startNextBlockSize begins the signature of the block size after the
// largest live one, from where that one stands: until a block size's first
// trigger, its next-larger one has seen exactly the same pieces.
func (s *Spamsum) startNextBlockSize() {
	last := &s.blocks[s.end-1]
	if s.end < numBlockSizes {
		next := &s.blocks[s.end]
		*next = blockSignature{sum: last.sum, halfSum: last.halfSum}
		s.end++
	} else if !s.needLastSum {
		s.needLastSum = true
		s.lastSum = last.sum
	}
}

// dropBlockSize stops tracking the smallest live block size once it can no
// longer be the one Sum picks: the input is already too long for it and the
// next one has enough characters to be picked instead.
func (s *Spamsum) dropBlockSize() {
	if s.end-s.first < 2 {
		return
	}
	if uint64(blockSize(s.first))*spamsumLength >= s.total {
		return
	}
	if s.blocks[s.first+1].sigLen < spamsumLength/2 {
		return
	}
	s.first++
	s.skipMask = s.skipMask*2 + 1
}

// Sum returns the hash as ssdeep prints it, "BLOCKSIZE:SIG1:SIG2", or "" for
// an input longer than ssdeep accepts (192 GiB).
func (s *Spamsum) Sum() string {
	if s.total > spamsumMaxInput {
		return ""
	}
	// The block size is the smallest whose 64 pieces could cover the input,
	// made smaller while its signature is less than half full.
	i := s.first
	for uint64(blockSize(i))*spamsumLength < s.total {
		i++
	}
	if i >= s.end {
		i = s.end - 1
	}
	for i > s.first && s.blocks[i].sigLen < spamsumLength/2 {
		i--
	}
	rolling := s.roll.sum()
	out := make([]byte, 0, 16+2*spamsumLength)
	out = strconv.AppendUint(out, uint64(blockSize(i)), 10)
	out = append(out, ':')

	// The last piece: the bytes after the last trigger, if the rolling
	// hash says any are still in play; otherwise what the last trigger
	// made past a full signature.
	b := &s.blocks[i]
	out = append(out, b.sig[:b.sigLen]...)
	if rolling != 0 {
		out = append(out, base64Chars[b.sum])
	} else if b.overflow != 0 {
		out = append(out, b.overflow)
	}
	out = append(out, ':')

	if i < s.end-1 {
		b := &s.blocks[i+1]
		out = append(out, b.sig[:min(b.sigLen, spamsumLength/2-1)]...)
		if rolling != 0 {
			out = append(out, base64Chars[b.halfSum])
		} else if b.halfChar != 0 {
			out = append(out, b.halfChar)
		}
	} else if rolling != 0 {
		// No larger block size has started: the first has no trigger yet
		// (or the largest is reached), so the whole input is one piece.
		if i == 0 {
			out = append(out, base64Chars[s.blocks[0].sum])
		} else {
			out = append(out, base64Chars[s.lastSum])
		}
	}
	return string(out)
}
