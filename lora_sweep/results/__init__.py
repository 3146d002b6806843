"""What a sweep writes: table rows, provenance, exported adapters, the results folder and its storage."""
