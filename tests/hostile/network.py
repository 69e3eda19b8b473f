# expect: ok
import socket
for host, port in (("127.0.0.1", __PORT__), ("8.8.8.8", 53), ("pypi.org", 443)):
    try:
        s = socket.create_connection((host, port), timeout=2)
        s.sendall(b"hello from the sandbox")
        print("CONNECTED", host, port)
    except Exception as e:
        print("blocked", host, port, type(e).__name__)
