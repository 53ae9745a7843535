#!/usr/bin/python3
"""smtp_latency.py HOST PORT TO COUNT CLIENTS SIZE: COUNT messages of SIZE
bytes to TO over CLIENTS concurrent connections (one message after another
on each); prints "p50 p99" of the time from the end of DATA (the final
".") to the server's 250, in milliseconds. For bench/smtp.sh."""
import socket
import sys
import threading
import time

host, port, to = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count, clients, size = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
body = b"Subject: latency\r\nFrom: bench@remote.test\r\n\r\n" + (b"x" * 76 + b"\r\n") * (size // 78) + b".\r\n"
times, lock = [], threading.Lock()


def reply(f):
    while True:
        line = f.readline()
        if not line:
            raise EOFError
        if line[3:4] != b"-":
            return int(line[:3])


def client(n):
    s = socket.create_connection((host, port))
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO bench.remote.test\r\n")
    reply(f)
    mine = []
    for _ in range(n):
        s.sendall(b"MAIL FROM:<bench@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n" % to.encode())
        codes = [reply(f) for _ in range(3)]
        assert codes == [250, 250, 354], codes
        s.sendall(body)
        t0 = time.perf_counter()
        code = reply(f)
        mine.append((time.perf_counter() - t0) * 1000)
        assert code == 250, code
    s.sendall(b"QUIT\r\n")
    s.close()
    with lock:
        times.extend(mine)


threads = [threading.Thread(target=client, args=(count // clients,)) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
times.sort()
print("%.2f %.2f" % (times[len(times) // 2], times[int(len(times) * 0.99)]))
