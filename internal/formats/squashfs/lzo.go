package squashfs

import "errors"

// lzoDecoder decodes LZO1X blocks (what mksquashfs -comp lzo writes with
// lzo1x_999), checking every read and write against the buffers as the
// Linux kernel's lzo1x_decompress_safe does.
type lzoDecoder struct{}

var errLZO = errors.New("lzo: corrupt input")

func (lzoDecoder) decode(out, in []byte) (int, error) {
	ip, op := 0, 0
	var t, next, state int
	byteAt := func() (int, bool) {
		if ip >= len(in) {
			return 0, false
		}
		ip++
		return int(in[ip-1]), true
	}
	// extend reads a length continued by zero bytes, each worth 255.
	extend := func(base int) (int, bool) {
		n := 0
		for ip < len(in) && in[ip] == 0 {
			n += 255
			ip++
			if n > len(out) {
				return 0, false
			}
		}
		b, ok := byteAt()
		return n + base + b, ok
	}
	literals := func(n int) bool {
		if n > len(in)-ip || n > len(out)-op {
			return false
		}
		copy(out[op:], in[ip:ip+n])
		ip += n
		op += n
		return true
	}
	match := func(dist, n int) bool {
		pos := op - dist
		if pos < 0 || n > len(out)-op {
			return false
		}
		for i := range n {
			out[op+i] = out[pos+i]
		}
		op += n
		return true
	}
	if len(in) > 0 && in[0] > 17 {
		t = int(in[0]) - 17
		ip = 1
		if t < 4 {
			if !literals(t) {
				return 0, errLZO
			}
			state = t
		} else {
			if !literals(t) {
				return 0, errLZO
			}
			state = 4
		}
	}
	for {
		b, ok := byteAt()
		if !ok {
			return 0, errLZO
		}
		t = b
		var dist int
		switch {
		case t < 16:
			switch state {
			case 0:
				if t == 0 {
					if t, ok = extend(15); !ok {
						return 0, errLZO
					}
				}
				if !literals(t + 3) {
					return 0, errLZO
				}
				state = 4
				continue
			case 4:
				b, ok := byteAt()
				if !ok {
					return 0, errLZO
				}
				next = t & 3
				dist = 1 + 0x0800 + t>>2 + b<<2
				t = 3
			default:
				b, ok := byteAt()
				if !ok {
					return 0, errLZO
				}
				next = t & 3
				if !match(1+t>>2+b<<2, 2) || !literals(next) {
					return 0, errLZO
				}
				state = next
				continue
			}
		case t >= 64:
			b, ok := byteAt()
			if !ok {
				return 0, errLZO
			}
			next = t & 3
			dist = 1 + (t>>2)&7 + b<<3
			t = t>>5 - 1 + 2
		case t >= 32:
			t = t&31 + 2
			if t == 2 {
				if t, ok = extend(31 + 2); !ok {
					return 0, errLZO
				}
			}
			if len(in)-ip < 2 {
				return 0, errLZO
			}
			v := int(in[ip]) | int(in[ip+1])<<8
			ip += 2
			dist = 1 + v>>2
			next = v & 3
		default: // 16..31
			far := (t & 8) << 11
			t = t&7 + 2
			if t == 2 {
				if t, ok = extend(7 + 2); !ok {
					return 0, errLZO
				}
			}
			if len(in)-ip < 2 {
				return 0, errLZO
			}
			v := int(in[ip]) | int(in[ip+1])<<8
			ip += 2
			next = v & 3
			dist = far + v>>2
			if dist == 0 {
				// End of stream marker.
				if ip != len(in) {
					return 0, errLZO
				}
				return op, nil
			}
			dist += 0x4000
		}
		if !match(dist, t) || !literals(next) {
			return 0, errLZO
		}
		state = next
	}
}
