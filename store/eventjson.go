package store

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEventJSON appends what json.Marshal(ev) writes, byte for byte,
// without reflection: sealing encodes every event appended, and
// encoding/json spends most of that finding fields and checking Args and
// Data once more. ok is false for an event it leaves to encoding/json: a
// time that is not UTC within the years 0-9999, or Args or Data that are
// not canonical JSON (normalize makes them so; sealEvent encodes events
// that were not normalised too). FuzzEventJSON holds it to json.Marshal.
func appendEventJSON(dst []byte, ev *Event) ([]byte, bool) {
	if y := ev.Time.Year(); ev.Time.Location() != time.UTC || y < 0 || y > 9999 || !canonical(ev.Args) || !canonical(ev.Data) {
		return dst, false
	}
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, ev.Seq, 10)
	dst = appendField(dst, `,"session":`, ev.Session)
	dst = append(dst, `,"time":"`...)
	dst = ev.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendField(dst, `,"kind":`, ev.Kind)
	dst = appendField(dst, `,"call_id":`, ev.CallID)
	dst = appendField(dst, `,"upstream":`, ev.Upstream)
	dst = appendField(dst, `,"tool":`, ev.Tool)
	dst = appendRaw(append(dst, `,"args":`...), ev.Args)
	dst = appendField(dst, `,"verdict":`, ev.Verdict)
	dst = append(dst, `,"reasons":`...)
	if ev.Reasons == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, r := range ev.Reasons {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, r)
		}
		dst = append(dst, ']')
	}
	dst = strconv.AppendBool(append(dst, `,"ok":`...), ev.OK)
	dst = appendField(dst, `,"error":`, ev.Error)
	dst = strconv.AppendInt(append(dst, `,"size":`...), int64(ev.Size), 10)
	dst = strconv.AppendInt(append(dst, `,"latency_us":`...), ev.LatencyUS, 10)
	dst = appendRaw(append(dst, `,"data":`...), ev.Data)
	if ev.DataSHA256 != "" {
		dst = appendField(dst, `,"data_sha256":`, ev.DataSHA256)
	}
	dst = appendField(dst, `,"prev":`, ev.Prev)
	dst = appendField(dst, `,"hash":`, ev.Hash)
	return append(dst, '}'), true
}

// canonical reports whether raw is written as encoding/json writes a
// RawMessage: nil (null), or valid, compact and HTML-escaped.
func canonical(raw json.RawMessage) bool {
	return raw == nil || plain(raw) && json.Valid(raw)
}

// appendRaw appends canonical raw as encoding/json does.
func appendRaw(dst []byte, raw json.RawMessage) []byte {
	if raw == nil {
		return append(dst, "null"...)
	}
	return append(dst, raw...)
}

// appendField appends a field's name (with its comma and colon) and its
// string value.
func appendField(dst []byte, name, s string) []byte {
	return appendJSONString(append(dst, name...), s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does with HTML
// escaping (its default): <, > and & and control bytes as \u00XX, the
// short escapes for \b \f \n \r \t, invalid UTF-8 as \ufffd, and U+2028
// and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
