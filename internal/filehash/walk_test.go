package filehash

import "testing"

func TestJoinPath(t *testing.T) {
	for _, tc := range [][3]string{
		{"d", "f", "d/f"}, {"d/", "f", "d/f"}, {"./d", "f", "./d/f"}, {"/", "etc", "/etc"}, {"d//", "f", "d//f"},
	} {
		if got := JoinPath(tc[0], tc[1]); got != tc[2] {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}
