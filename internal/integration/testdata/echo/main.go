// Command echo is a test helper: a line-based JSON-RPC-style server on
// stdio. Each input line {"id":N,"method":M,"params":P} gets the answer
// {"id":N,"result":P} on its own line, flushed at once; it exits at end of
// input.
package main

import (
	"bufio"
	"encoding/json"
	"os"
)

func main() {
	in := bufio.NewReaderSize(os.Stdin, 64<<10)
	out := bufio.NewWriter(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var req struct {
				ID     int             `json:"id"`
				Params json.RawMessage `json:"params"`
			}
			if json.Unmarshal(line, &req) != nil {
				out.WriteString(`{"error":"bad request"}` + "\n")
			} else {
				b, _ := json.Marshal(map[string]any{"id": req.ID, "result": req.Params})
				out.Write(append(b, '\n'))
			}
			out.Flush()
		}
		if err != nil {
			return
		}
	}
}
