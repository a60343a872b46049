"""Local fake provider servers for tests (faked at the HTTP level, used with the real SDKs)."""
