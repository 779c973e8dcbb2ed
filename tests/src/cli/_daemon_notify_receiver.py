# A systemd-like NOTIFY_SOCKET for the daemon tests: binds a Unix datagram
# socket (a path, or @name for an abstract address), prints BOUND, then each
# datagram as a JSON string on its own line. Ends when killed or after 120 s.
import json, signal, socket, sys

address = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + address[1:] if address.startswith("@") else address)
signal.alarm(120)
print("BOUND", flush=True)
while True:
    data = sock.recv(4096)
    print(json.dumps(data.decode()), flush=True)
