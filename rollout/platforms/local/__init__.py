"""The local platform: HAProxy in front of app processes on 127.0.0.1."""
