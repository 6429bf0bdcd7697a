"""The records store: medical record files kept outside Temporal, encrypted at rest.

- `blobs`: where the bytes go (a directory, or an S3-compatible bucket), one small protocol.
- `content`: what a file is, read from its bytes; what is refused.
- `vault`: AES-256-GCM per file with the key id kept, content-addressed within a case.

The case store keeps each file's row (type, language, SHA-256, who added it, its translation);
the journey sees only the SHA-256 (`record_received`, the translation milestones). Services:
`cellpath.services.records`.
"""
