package httpserver

import (
	"encoding/json"
	"net/http"
)

// WriteJSON writes v as JSON with status and content type.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	WriteBytes(w, status, contentType, body)
}

// WriteBytes writes a prepared body with status and content type, and
// tells browsers not to sniff it.
func WriteBytes(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
