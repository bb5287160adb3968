package livestate

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
)

// A beat is encoded compactly, not as JSON: every server decodes every
// agent's beat (a thousand agents, 500 a second), and decoding JSON into
// a map was 7% of a server's CPU per beat (bench/beats.sh). The layout:
//
//	beatMagic, uvarint len(host), host, uvarint len(EEs),
//	then for each EE: uvarint len(id), id, float64 CPUSeconds (8 bytes,
//	little endian), varint RSSBytes, uvarint Completed, uvarint InFlight
const beatMagic = 0xB1

// maxBeatEEs bounds a beat's EEs: no instance runs more.
const maxBeatEEs = 4096

// AppendBeat appends b, encoded, to dst.
func AppendBeat(dst []byte, b Beat) []byte {
	dst = append(dst, beatMagic)
	dst = binary.AppendUvarint(dst, uint64(len(b.Host)))
	dst = append(dst, b.Host...)
	dst = binary.AppendUvarint(dst, uint64(len(b.EEs)))
	for id, u := range b.EEs {
		dst = binary.AppendUvarint(dst, uint64(len(id)))
		dst = append(dst, id...)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(u.CPUSeconds))
		dst = binary.AppendVarint(dst, u.RSSBytes)
		dst = binary.AppendUvarint(dst, u.Completed)
		dst = binary.AppendUvarint(dst, uint64(max(u.InFlight, 0)))
	}
	return dst
}

var errBadBeat = errors.New("not a beat")

// ParseBeat reads a beat that AppendBeat encoded (or a JSON one, as older
// agents sent). It tells host the beat's host, and calls the function
// host returns (unless nil) with every EE's usage. The id passed is only
// valid during the call: index a map with string(id) and nothing is
// allocated. A beat found malformed partway may have reported some EEs.
func ParseBeat(data []byte, host func(string) func(id []byte, u EEUsage)) error {
	if len(data) == 0 || data[0] != beatMagic {
		var b Beat
		if err := json.Unmarshal(data, &b); err != nil {
			return errBadBeat
		}
		if each := host(b.Host); each != nil {
			for id, u := range b.EEs {
				each([]byte(id), u)
			}
		}
		return nil
	}
	r := beatReader{data: data[1:]}
	name := r.bytes()
	if r.err != nil {
		return errBadBeat
	}
	each := host(string(name))
	n := r.uvarint()
	if r.err != nil || n > maxBeatEEs {
		return errBadBeat
	}
	for range n {
		id := r.bytes()
		var u EEUsage
		u.CPUSeconds = math.Float64frombits(r.fixed64())
		u.RSSBytes = r.varint()
		u.Completed = r.uvarint()
		inFlight := r.uvarint()
		if r.err != nil || inFlight > math.MaxInt32 || !(u.CPUSeconds >= 0 && u.CPUSeconds <= math.MaxFloat64) {
			return errBadBeat
		}
		u.InFlight = int(inFlight)
		if each != nil {
			each(id, u)
		}
	}
	if len(r.data) != 0 {
		return errBadBeat
	}
	return nil
}

// beatReader reads the fields of a beat; the first error sticks.
type beatReader struct {
	data []byte
	err  error
}

func (r *beatReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		r.err, r.data = errBadBeat, nil
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *beatReader) varint() int64 {
	v, n := binary.Varint(r.data)
	if n <= 0 {
		r.err, r.data = errBadBeat, nil
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *beatReader) fixed64() uint64 {
	if len(r.data) < 8 {
		r.err, r.data = errBadBeat, nil
		return 0
	}
	v := binary.LittleEndian.Uint64(r.data)
	r.data = r.data[8:]
	return v
}

func (r *beatReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.data)) {
		r.err, r.data = errBadBeat, nil
		return nil
	}
	b := r.data[:n]
	r.data = r.data[n:]
	return b
}
