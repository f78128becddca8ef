// Small python3 programs run in a namespace where netcat and curl cannot do
// the job: many connections held open at once, and resets (SO_LINGER 0).

/** Opens `n` connections, all before any sends; each sends its own lines, half-closes and checks its echo. Prints how many matched. */
export const CONCURRENT_ECHO_CLIENT = `
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = [socket.create_connection((host, port), timeout=60) for _ in range(n)]
print("open", len(socks), file=sys.stderr, flush=True)
def message(i):
    return (f"connection {i} of {n}\\n" * 64).encode()
for i, s in enumerate(socks):
    s.sendall(message(i))
    s.shutdown(socket.SHUT_WR)
ok = 0
for i, s in enumerate(socks):
    got = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    if bytes(got) == message(i):
        ok += 1
    s.close()
print(ok)
`;

/**
 * Connects, then either reads \`bytes\` (download) or sends them (upload),
 * and resets the connection: SO_LINGER with a zero timeout makes close()
 * send RST instead of FIN.
 */
export const RESETTING_CLIENT = `
import socket, struct, sys, time
mode, host, port, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.create_connection((host, port), timeout=30)
if mode == "download":
    got = 0
    while got < size:
        d = s.recv(65536)
        if not d:
            sys.exit("the server closed first")
        got += len(d)
else:
    s.sendall(b"x" * size)
    time.sleep(0.2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("reset")
`;

/** Listens on a port; resets each connection after reading \`bytes\` from it. Prints "listening" when ready. */
export const RESETTING_SERVER = `
import socket, struct, sys
port, size = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", port))
l.listen(16)
print("listening", flush=True)
while True:
    c, _ = l.accept()
    got = 0
    while got < size:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
`;
